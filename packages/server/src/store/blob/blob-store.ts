import type { Readable } from "node:stream";

/** Bytes received and measured, not yet visible to anyone. */
export interface StagedBlob {
  readonly stagingId: string;
  /** A local file holding the bytes, for header probing. */
  readonly localPath: string;
  readonly size: number;
  readonly sha256: string;
  /** Big-endian CRC-32C as a signed 32-bit integer, as on the wire. */
  readonly crc32c: number;
  /** The whole body, when it was small enough to keep in memory. */
  readonly bytes?: Buffer;
  /** False when staged with `deferSync`: publishing makes the bytes durable first. */
  readonly durable?: boolean;
}

export interface StageOptions {
  /** Stop reading and fail once the body passes this many bytes. */
  maxBytes: number;
  signal?: AbortSignal;
  /**
   * Write the bytes without waiting for them to be durable: `publishMany` then makes a whole
   * group durable at once (group durability, one wait for many files).
   */
  deferSync?: boolean;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** Stored bytes opened for reading: their size as stored now, and their contents. */
export interface BlobReader {
  /** The size of the bytes as stored (the blob was opened, so a concurrent delete does not change it). */
  readonly size: number;
  /** Streams the bytes, or one range of them; the reader closes once the stream ends or is destroyed. */
  stream(range?: ByteRange): Readable;
  /** Closes a reader whose bytes are not streamed after all. */
  close(): Promise<void>;
}

/**
 * Content-addressed bytes (by SHA-256). The local folder is the embedded default; an
 * S3-compatible bucket scales out. Staging keeps partial bytes invisible: only `publish`
 * makes them addressable, and only after they are durable.
 */
export interface BlobStore {
  readonly kind: "local" | "s3";
  /** Removes staging leftovers of a previous run (a crash mid-upload). */
  sweepStaging(): Promise<number>;
  /** Streams a body into staging while measuring size, SHA-256 and CRC-32C. */
  stage(body: Readable, options: StageOptions): Promise<StagedBlob>;
  /** Makes staged bytes durable under their SHA-256; idempotent when they are already there. */
  publish(staged: StagedBlob): Promise<void>;
  /**
   * Publishes a group: every file made durable, renamed, and each folder they went to synced
   * once, so the group shares its waits. Absent: `publish` each in turn.
   */
  publishMany?(staged: StagedBlob[]): Promise<void>;
  discard(staged: StagedBlob): Promise<void>;
  read(sha256: string, range?: ByteRange): Readable;
  /**
   * Opens stored bytes for reading; undefined when they are not there. Their size can then be
   * checked before anything is sent, and they stay readable while the reader is open.
   */
  openRead(sha256: string): Promise<BlobReader | undefined>;
  delete(sha256: string): Promise<void>;
  /**
   * Where the store keeps these bytes as a local file, for readers that take a path (the
   * decoders read in place); absent where bytes are not local (S3): read() them instead.
   */
  localPath?(sha256: string): string;
  /** The stored size of these bytes, or undefined when they are not there. */
  size(sha256: string): Promise<number | undefined>;
  close(): Promise<void>;
  /** Every stored digest, for reconciling with the metadata after a crash. */
  list(): AsyncIterable<string>;
}
