import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Readable } from "node:stream";
import { ApiError } from "../errors.js";
import { basename } from "../util/filenames.js";
import { uploadPath } from "../services/ingestion-service.js";
import { AssetService } from "../services/asset-service.js";
import type { Services } from "../services/services.js";
import type { ServiceContext } from "../services/context.js";

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
        const index = Number(fileIndex);
        const path = uploadPath(sessionId, index);
        const check =
          Number.isSafeInteger(index) && index >= 0
            ? ctx.signer.verify("upload", path, request.query.expires, request.query.signature)
            : "invalid";
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
        const result = await services.ingestion.receive(sessionId, index, body, declared, closed.signal);
        return reply.code(200).send(result);
      },
    );

    const download = async (
      request: FastifyRequest<{ Params: DownloadRouteParams; Querystring: SignedQuery }>,
      reply: FastifyReply,
    ) => {
      const p = request.params;
      const path = AssetService.downloadPath({
        orgId: p.orgId,
        datasetId: p.datasetId,
        assetId: p.assetId,
        generation: Number(p.generation),
        filename: p.name,
      });
      const check = ctx.signer.verify("download", path, request.query.expires, request.query.signature);
      if (check === "invalid") throw forbidden("The download URL's signature is not valid");
      if (check === "expired") throw forbidden("The download URL has expired");
      const asset = await services.assets.resolveDownload({
        orgId: p.orgId,
        datasetId: p.datasetId,
        assetId: p.assetId,
        generation: p.generation,
      });
      return sendBytes(ctx, request, reply, asset.sha256, asset.fileSize, asset.mimeType, basename(asset.filename));
    };
    app.get("/files/:orgId/:datasetId/:assetId/:generation/:name", { schema: { hide: true } }, download);
  };

interface DownloadRouteParams {
  orgId: string;
  datasetId: string;
  assetId: string;
  generation: string;
  name: string;
}

/** Serves bytes with ETag, one byte range at most, and a Content-Disposition that cannot inject headers. */
function sendBytes(
  ctx: ServiceContext,
  request: FastifyRequest,
  reply: FastifyReply,
  sha256: string,
  size: number,
  mimeType: string,
  name: string,
) {
  const etag = `"${sha256}"`;
  void reply.header("etag", etag).header("accept-ranges", "bytes").header("content-type", mimeType);
  void reply.header("cache-control", "private, max-age=3600").header("x-content-type-options", "nosniff");
  void reply.header("content-disposition", contentDisposition(name));
  if (request.headers["if-none-match"] === etag) return reply.code(304).send();
  let range: { start: number; end: number } | undefined;
  const header = request.headers.range;
  if (header !== undefined && (request.headers["if-range"] === undefined || request.headers["if-range"] === etag)) {
    const parsed = parseRange(header, size);
    if (parsed === null) return reply.code(416).header("content-range", `bytes */${size}`).send();
    range = parsed;
  }
  const length = range ? range.end - range.start + 1 : size;
  void reply.header("content-length", String(length));
  if (range) void reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${size}`);
  return reply.send(ctx.blobs.read(sha256, range));
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
