import { createHash, type Hash } from "node:crypto";
import { pipeline, Transform, type Readable, type TransformCallback } from "node:stream";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "../errors.js";
import { basename } from "../util/filenames.js";
import { batchPath, uploadPath } from "../services/ingestion-service.js";
import { AssetService, type ServedBlob } from "../services/asset-service.js";
import type { Services } from "../services/services.js";
import type { ServiceContext } from "../services/context.js";
import { redirectToBucket } from "./bucket.js";

interface SignedQuery {
  expires?: string;
  signature?: string;
}

const forbidden = (message: string) =>
  new ApiError(
    "PermissionDenied",
    message,
    "Ask the API for a fresh URL (upload session status, or the asset with contents=y).",
  );

/**
 * The routes reached by signed URL instead of a secret key: the upload PUT and the download
 * GET/HEAD. The signature is checked before anything else is read.
 */
export const signedRoutes =
  (ctx: ServiceContext, services: Services): FastifyPluginAsync =>
  async (app) => {
    // Upload bodies are raw bytes of any (or no) content type, streamed, never buffered.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

    app.put<{ Params: { sessionId: string; fileIndex: string }; Querystring: SignedQuery }>(
      "/uploads/:sessionId/:fileIndex",
      { schema: { hide: true } },
      async (request, reply) => {
        const { sessionId, fileIndex } = request.params;
        const index = canonicalInteger(fileIndex);
        if (index === undefined) throw forbidden("The upload URL's signature is not valid");
        const path = uploadPath(sessionId, index);
        const check = ctx.signer.verify("upload", path, request.query.expires, request.query.signature);
        if (check === "invalid") throw forbidden("The upload URL's signature is not valid");
        if (check === "expired") {
          await services.ingestion.expire(sessionId, index);
          throw forbidden("The upload URL has expired");
        }
        const lengthHeader = request.headers["content-length"];
        const declared = lengthHeader !== undefined ? Number(lengthHeader) : undefined;
        const closed = new AbortController();
        request.raw.once("close", () => {
          if (!request.raw.complete) closed.abort();
        });
        const body = (request.body as Readable | undefined) ?? request.raw;
        const result = await services.ingestion.receive(sessionId, index, body, declared, { signal: closed.signal });
        return reply.code(200).send(result);
      },
    );

    // [ext] Many small files of one session in one request (services/batch-upload.ts).
    app.put<{ Params: { sessionId: string }; Querystring: SignedQuery }>(
      "/uploads/:sessionId/batch",
      { schema: { hide: true } },
      async (request, reply) => {
        const { sessionId } = request.params;
        const check = ctx.signer.verify("upload", batchPath(sessionId), request.query.expires, request.query.signature);
        if (check === "invalid") throw forbidden("The upload URL's signature is not valid");
        if (check === "expired") throw forbidden("The upload URL has expired");
        const closed = new AbortController();
        request.raw.once("close", () => {
          if (!request.raw.complete) closed.abort();
        });
        const body = (request.body as Readable | undefined) ?? request.raw;
        const files = await services.batchUpload.receive(sessionId, body, closed.signal);
        return reply.code(200).send({ files });
      },
    );

    const download = async (
      request: FastifyRequest<{ Params: DownloadRouteParams; Querystring: SignedQuery }>,
      reply: FastifyReply,
    ) => {
      const p = request.params;
      const generation = canonicalInteger(p.generation);
      if (generation === undefined) throw forbidden("The download URL's signature is not valid");
      const path = AssetService.downloadPath({
        orgId: p.orgId,
        datasetId: p.datasetId,
        assetId: p.assetId,
        generation,
        filename: p.name,
      });
      const check = ctx.signer.verify("download", path, request.query.expires, request.query.signature);
      if (check === "invalid") throw forbidden("The download URL's signature is not valid");
      if (check === "expired") throw forbidden("The download URL has expired");
      const resolve = () =>
        services.assets.resolveDownload({
          orgId: p.orgId,
          datasetId: p.datasetId,
          assetId: p.assetId,
          generation: p.generation,
        });
      const served = await resolve();
      if (ctx.bucket) return redirectToBucket(ctx, reply, served, Number(request.query.expires));
      return sendBytes(ctx, request, reply, served, resolve);
    };
    const route = "/files/:orgId/:datasetId/:assetId/:generation/:name";
    // HEAD is a route of its own: Fastify's automatic one runs the GET and reads the whole body
    // to throw it away, answering 200 even when the bytes turn out to be missing.
    app.get(route, { schema: { hide: true }, exposeHeadRoute: false }, download);
    app.head(route, { schema: { hide: true } }, download);

    const thumbnail = async (
      request: FastifyRequest<{ Params: DownloadRouteParams; Querystring: SignedQuery }>,
      reply: FastifyReply,
    ) => {
      const p = request.params;
      const generation = canonicalInteger(p.generation);
      if (generation === undefined) throw forbidden("The thumbnail URL's signature is not valid");
      const path = AssetService.thumbnailPath({ ...p, thumbnail: { generation } });
      // The name is part of the signed path: any other name fails the signature.
      const check = ctx.signer.verify("download", path, request.query.expires, request.query.signature);
      if (check === "invalid" || !path.endsWith(`/${p.name}`))
        throw forbidden("The thumbnail URL's signature is not valid");
      if (check === "expired") throw forbidden("The thumbnail URL has expired");
      const resolve = () => services.assets.resolveThumbnail({ ...p, generation: p.generation });
      const served = await resolve();
      if (ctx.bucket) return redirectToBucket(ctx, reply, served, Number(request.query.expires));
      return sendBytes(ctx, request, reply, served, resolve);
    };
    const thumbnailRoute = "/thumbnails/:orgId/:datasetId/:assetId/:generation/:name";
    app.get(thumbnailRoute, { schema: { hide: true }, exposeHeadRoute: false }, thumbnail);
    app.head(thumbnailRoute, { schema: { hide: true } }, thumbnail);
  };

/**
 * A path number exactly as the server writes it (`0`, `17`): `00`, `0x0`, `1e1` or `+1` name the
 * same number but not the same signed path, and are refused rather than normalised.
 */
function canonicalInteger(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(text)) return undefined;
  return Number(text);
}

interface DownloadRouteParams {
  orgId: string;
  datasetId: string;
  assetId: string;
  generation: string;
  name: string;
}

/** Whole bodies up to this size are read and verified before the answer starts, so damage answers a clean 500. */
const VERIFY_BEFORE_SENDING = 1024 * 1024;

/**
 * Serves an asset's bytes with ETag, one byte range at most, and a Content-Disposition that
 * cannot inject headers, and only bytes that match the asset:
 *
 * - The stored size is checked before anything is sent (HEAD and GET alike): bytes that are
 *   missing or of another size answer 500 with a clear message, never a Content-Length the
 *   body cannot fill (a client would wait for the rest until the connection times out).
 * - A whole-file GET is checked against the asset's SHA-256 (the ETag names it). Up to 1 MiB
 *   the bytes are read and checked first, so damage answers 500. Larger ones are checked while
 *   they stream and the last chunk is held back until the digest matched: on a mismatch the
 *   connection is destroyed before it, so the client gets fewer bytes than Content-Length (a
 *   transfer error) and never a complete-looking corrupt file.
 * - A range is checked for its length only (its digest is unknown).
 *
 * Every finding is logged at error level with the asset and the SHA-256.
 */
async function sendBytes(
  ctx: ServiceContext,
  request: FastifyRequest,
  reply: FastifyReply,
  asset: ServedBlob,
  recheck: () => Promise<ServedBlob>,
) {
  const { sha256, fileSize: size } = asset;
  const etag = `"${sha256}"`;
  const headers = () => {
    void reply.header("etag", etag).header("accept-ranges", "bytes").header("content-type", asset.mimeType);
    void reply.header("cache-control", "private, max-age=3600").header("x-content-type-options", "nosniff");
    void reply.header("content-disposition", contentDisposition(basename(asset.filename)));
  };
  if (request.headers["if-none-match"] === etag) {
    headers();
    return reply.code(304).send();
  }
  let range: { start: number; end: number } | undefined;
  const header = request.headers.range;
  if (header !== undefined && (request.headers["if-range"] === undefined || request.headers["if-range"] === etag)) {
    const parsed = parseRange(header, size);
    if (parsed === null) {
      headers();
      return reply.code(416).header("content-range", `bytes */${size}`).send();
    }
    range = parsed;
  }

  const where = { orgId: asset.orgId, datasetId: asset.datasetId, assetId: asset.assetId, sha256 };
  const reader = await ctx.blobs.openRead(sha256);
  if (!reader || reader.size !== size) {
    await reader?.close();
    // Deleted or replaced since it was read: that is a 404, not damage.
    await recheck();
    const found = reader ? `${reader.size} bytes instead of ${size}` : "missing";
    request.log.error({ ...where, expectedSize: size, storedSize: reader?.size ?? null }, `stored bytes ${found}`);
    throw damaged(request, reader ? `are ${found}` : "are missing");
  }

  const length = range ? range.end - range.start + 1 : size;
  if (request.method === "HEAD") {
    await reader.close();
    headers();
    void reply.header("content-length", String(length));
    if (range) void reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${size}`);
    return reply.send();
  }
  if (!range && size <= VERIFY_BEFORE_SENDING) {
    const bytes = await readAll(reader.stream(), size);
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (bytes.length !== size || actual !== sha256) {
      request.log.error(
        { ...where, storedSize: bytes.length, storedSha256: actual },
        "stored bytes do not match the asset's SHA-256; nothing was sent",
      );
      throw damaged(request, "are damaged (their SHA-256 no longer matches)");
    }
    headers();
    return reply.header("content-length", String(size)).send(bytes);
  }

  headers();
  void reply.header("content-length", String(length));
  if (range) void reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${size}`);
  const verifier = new VerifyingStream(length, range ? undefined : sha256);
  const body = pipeline(reader.stream(range), verifier, (err) => {
    if (!err || (err as NodeJS.ErrnoException).code === "ERR_STREAM_PREMATURE_CLOSE") return;
    // The client has the headers already: Fastify destroys the connection, this says why.
    request.log.error(
      { ...where, err, ...(range ? { range } : {}) },
      err instanceof DamagedBytes
        ? `stored bytes ${err.message}; the connection was cut before the last chunk`
        : "reading stored bytes failed mid-answer; the connection was cut",
    );
  });
  return reply.send(body);
}

function damaged(request: FastifyRequest, what: string): ApiError {
  return new ApiError(
    "ServerError",
    `The stored bytes of this asset ${what}; nothing was sent`,
    `Report the trace id ${request.id} to the server's operator, who can restore the bytes or have the file uploaded again.`,
  );
}

class DamagedBytes extends Error {}

/**
 * Passes bytes through while counting (and hashing) them, holding the latest chunk back: it
 * goes out only once the end proved the body to be `length` bytes with the given SHA-256.
 */
class VerifyingStream extends Transform {
  private readonly hash: Hash | undefined;
  private held: Buffer | undefined;
  private seen = 0;

  constructor(
    private readonly length: number,
    private readonly sha256: string | undefined,
  ) {
    super();
    this.hash = sha256 ? createHash("sha256") : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    this.hash?.update(chunk);
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.seen !== this.length) {
      done(new DamagedBytes(`ended after ${this.seen} of ${this.length} bytes`));
      return;
    }
    const actual = this.hash?.digest("hex");
    if (actual !== this.sha256) {
      done(new DamagedBytes(`have the SHA-256 ${actual}, not ${this.sha256}`));
      return;
    }
    done(null, this.held);
  }
}

async function readAll(stream: Readable, expected: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    // More than the stored size said is damage too; no need to read it all.
    if (total > expected) break;
  }
  if (total > expected) stream.destroy();
  return Buffer.concat(chunks, total);
}

/** A single `bytes=` range; undefined means "serve it all" (unsupported forms), null means unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === "" && b === "") return undefined;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
