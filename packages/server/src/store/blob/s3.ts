import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import type { BlobReader, BlobStore, ByteRange, StagedBlob, StageOptions } from "./blob-store.js";
import { LocalBlobStore } from "./local.js";
import { S3Multipart } from "./s3-multipart.js";
import { FastPresigner } from "./s3-presign.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;
/** SigV4 presigned URLs live at most a week. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** Above this a verified body goes up in parts (a single PUT is capped at 5 GiB by S3). */
const SINGLE_PUT_LIMIT = 64 * 1024 * 1024;

export interface S3Options {
  bucket: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Prepended to every key (`team-a/`), so several deployments can share a bucket. */
  prefix?: string;
  region?: string;
  /** For tests: explicit credentials instead of the AWS SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** A staging object the client uploaded to a presigned URL, as listed in the bucket. */
export interface LandedObject {
  sessionId: string;
  fileIndex: number;
  size: number;
  lastModified: number;
}

export const isNotFound = (err: unknown): boolean =>
  err instanceof S3ServiceException &&
  (err.name === "NotFound" || err.name === "NoSuchKey" || err.$metadata.httpStatusCode === 404);

/**
 * Bytes in an S3-compatible bucket: `<prefix>blobs/<sha256>` for published bytes (content
 * addressed, so deduplication and idempotent publishing come free) and
 * `<prefix>staging/<session>/<file index>` for what clients PUT to presigned URLs. Only digests
 * and server-made ids ever become keys; a client-supplied filename never does.
 *
 * Bytes that pass through the server (the batch PUT, thumbnails, bytes read back for
 * verification) are staged on local disk first, like the local store, and uploaded to their
 * content address once verified: what is published is always what was measured, whatever the
 * staging object turned into meanwhile.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = "s3" as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly multipart: S3Multipart;
  private readonly prefix: string;
  /** Local scratch space for bytes being measured (same code as the local store's staging). */
  private readonly scratch: LocalBlobStore;
  private readonly presigner: FastPresigner;

  constructor(options: S3Options, scratchDir: string) {
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? "us-east-1",
      forcePathStyle: options.forcePathStyle ?? false,
      // The SDK would otherwise add a CRC-32 of an empty body to every presigned PUT.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    this.client = new S3Client(config);
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.scratch = new LocalBlobStore(scratchDir);
    this.multipart = new S3Multipart(this.client, this.bucket);
    this.presigner = new FastPresigner(this.client, this.bucket);
  }

  async init(): Promise<void> {
    await this.scratch.init();
    // Fails at start, with the store's own message, when the bucket is missing or not ours.
    await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
  }

  async close(): Promise<void> {
    await this.scratch.close();
    this.client.destroy();
  }

  /** Local scratch leftovers only: the bucket's staging objects belong to live sessions (see StagingSweeper). */
  sweepStaging(): Promise<number> {
    return this.scratch.sweepStaging();
  }

  stage(body: Readable, options: StageOptions): Promise<StagedBlob> {
    // Never fsynced: the scratch copy only has to outlive the upload to the bucket.
    return this.scratch.stage(body, { ...options, deferSync: true });
  }

  async publish(staged: StagedBlob): Promise<void> {
    try {
      const key = this.blobKey(staged.sha256);
      if ((await this.size(staged.sha256)) === staged.size) return; // Content addressed: already there.
      await this.putFile(key, staged);
    } finally {
      await this.scratch.discard(staged);
    }
  }

  async publishMany(staged: StagedBlob[]): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all(staged.map((s) => this.publish(s).catch((err: unknown) => errors.push(err))));
    if (errors.length > 0) throw errors[0];
  }

  discard(staged: StagedBlob): Promise<void> {
    return this.scratch.discard(staged);
  }

  private async putFile(key: string, staged: StagedBlob): Promise<void> {
    if (staged.size > SINGLE_PUT_LIMIT && !staged.bytes) {
      await this.multipart.putFile(key, staged.localPath, staged.size);
      return;
    }
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: staged.bytes ?? createReadStream(staged.localPath),
        ContentLength: staged.size,
        ChecksumCRC32C: crc32cBase64(staged.crc32c),
      }),
    );
  }

  read(sha256: string, range?: ByteRange): Readable {
    return this.readKey(this.blobKey(sha256), range);
  }

  /**
   * Streams an object (or a range of it); a missing object is an error on the stream. The
   * request starts only when the stream is first read, and is aborted when it is destroyed, so a
   * stream given up unread (a file refused on its size alone) costs nothing and leaks nothing.
   */
  readKey(key: string, range?: ByteRange, ifMatch?: string): Readable {
    const abort = new AbortController();
    let body: Readable | undefined;
    let started = false;
    const out = new Readable({
      read: () => {
        if (body) {
          body.resume();
          return;
        }
        if (started) return;
        started = true;
        this.client
          .send(
            new GetObjectCommand({
              Bucket: this.bucket,
              Key: key,
              ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
              ...(ifMatch ? { IfMatch: ifMatch } : {}),
            }),
            { abortSignal: abort.signal },
          )
          .then(
            (res) => {
              body = res.Body as Readable;
              body.on("data", (chunk: Buffer) => {
                if (!out.push(chunk)) body!.pause();
              });
              body.once("end", () => out.push(null));
              body.once("error", (err) => out.destroy(err));
            },
            (err: Error) => out.destroy(err),
          );
      },
      destroy: (err, done) => {
        abort.abort();
        body?.destroy();
        done(err);
      },
    });
    return out;
  }

  async openRead(sha256: string): Promise<BlobReader | undefined> {
    const key = this.blobKey(sha256);
    const head = await this.head(key);
    if (!head) return undefined;
    // Every range read names this version: if the object were replaced meanwhile, the read fails
    // instead of mixing two versions.
    return {
      size: head.size,
      stream: (range) => this.readKey(key, range, head.etag),
      close: async () => undefined,
    };
  }

  async size(sha256: string): Promise<number | undefined> {
    return (await this.head(this.blobKey(sha256)))?.size;
  }

  async head(key: string): Promise<{ size: number; etag?: string } | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: res.ContentLength ?? 0, ...(res.ETag ? { etag: res.ETag } : {}) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blobKey(sha256) }));
  }

  /** Deletes many digests' bytes, up to 1000 per request. */
  async deleteMany(sha256s: string[]): Promise<void> {
    await this.deleteKeys(sha256s.map((sha) => this.blobKey(sha)));
  }

  async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const res = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = res.Errors?.filter((e) => e.Code !== "NoSuchKey") ?? [];
      if (failed.length > 0) throw new Error(`deleting ${failed.length} objects failed: ${failed[0]!.Message}`);
    }
  }

  async *list(): AsyncIterable<string> {
    for await (const obj of this.listKeys(`${this.prefix}blobs/`)) {
      const name = obj.key.slice(this.prefix.length + "blobs/".length);
      if (SHA256_HEX.test(name)) yield name;
    }
  }

  async *listKeys(prefix: string): AsyncIterable<{ key: string; size: number; lastModified: number }> {
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  /** Staging objects clients have uploaded, for one session or (without one) for every session. */
  async *listStaging(sessionId?: string): AsyncIterable<LandedObject> {
    const base = `${this.prefix}staging/`;
    for await (const o of this.listKeys(sessionId ? `${base}${checkId(sessionId)}/` : base)) {
      const match = /^([A-Za-z0-9_-]+)\/(0|[1-9][0-9]{0,8})$/.exec(o.key.slice(base.length));
      if (match) {
        yield { sessionId: match[1]!, fileIndex: Number(match[2]), size: o.size, lastModified: o.lastModified };
      }
    }
  }

  blobKey(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a SHA-256 digest: ${sha256}`);
    return `${this.prefix}blobs/${sha256}`;
  }

  /** Where a session's file is uploaded to: server-made ids only. */
  stagingKey(sessionId: string, fileIndex: number): string {
    if (!Number.isSafeInteger(fileIndex) || fileIndex < 0) throw new Error(`not a file index: ${fileIndex}`);
    return `${this.prefix}staging/${checkId(sessionId)}/${fileIndex}`;
  }

  /**
   * A presigned PUT of exactly one file: the CRC-32C header is signed, so the client must send
   * it (stores that check checksums then refuse other bytes; the server checks anyway).
   */
  async presignPut(
    key: string,
    crc32c: number,
    expiresAt: number,
  ): Promise<{ url: string; headers: Record<string, string> }> {
    const checksum = crc32cBase64(crc32c);
    const url = await this.presigner.presignPut(key, checksum, secondsUntil(expiresAt));
    return { url, headers: { "x-amz-checksum-crc32c": checksum } };
  }

  /** A presigned GET that answers with the given file name and content type. */
  presignGet(sha256: string, expiresAt: number, filename: string, contentType: string): Promise<string> {
    return this.presigner.presignGet(
      this.blobKey(sha256),
      { contentType, contentDisposition: contentDispositionOf(filename) },
      secondsUntil(expiresAt),
    );
  }
}

/** The wire form of a CRC-32C header: base64 of the 4 big-endian bytes. */
export function crc32cBase64(crc32c: number): string {
  const b = Buffer.alloc(4);
  b.writeInt32BE(crc32c | 0);
  return b.toString("base64");
}

function secondsUntil(expiresAt: number): number {
  return Math.max(1, Math.min(MAX_PRESIGN_SECONDS, Math.floor((expiresAt - Date.now()) / 1000)));
}

function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  if (p && !/^[A-Za-z0-9._\-/]+$/.test(p)) throw new Error(`VI_S3_PREFIX may hold letters, digits, . _ - / only: ${p}`);
  return p ? `${p}/` : "";
}

function checkId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`not a session id: ${id}`);
  return id;
}

/** An attachment name that cannot inject headers: ASCII fallback plus the RFC 5987 UTF-8 form. */
function contentDispositionOf(filename: string): string {
  const base = filename.split("/").pop() ?? "file";
  const ascii = base.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

export { SINGLE_PUT_LIMIT };
