import { createReadStream, promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { crc32c } from "@node-rs/crc32";
import { StorageIOError } from "../../errors.js";
import {
  BlobTooLargeError,
  type BlobReader,
  type BlobStore,
  type ByteRange,
  type StagedBlob,
  type StageOptions,
} from "./blob-store.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Bodies up to this size are held in memory while staged (bounded by the PUT concurrency). */
const IN_MEMORY_LIMIT = 1024 * 1024;
/** Larger bodies go to disk in writes of about this size. */
const WRITE_BATCH = 4 * 1024 * 1024;

async function writeAllv(file: FileHandle, buffers: Buffer[]): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const { bytesWritten } = await file.writev(buffers);
  // A short vectored write is rare on regular files; finish the rest simply.
  if (bytesWritten < total) await writeAll(file, Buffer.concat(buffers).subarray(bytesWritten));
}

async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

/**
 * Reads and drops the rest of a request body that will not be stored, so that the client
 * finishes sending and reads the answer; past `allowance` more bytes it is cut instead.
 */
export function drainBody(body: Readable, allowance: number): void {
  if (body.readableEnded || body.destroyed) return;
  let left = allowance;
  body.on("data", (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) body.destroy();
  });
  body.on("error", () => undefined);
  body.resume();
}

/**
 * Blobs in a local folder: `blobs/ab/<sha256>` (256 shards: a few thousand files per folder at
 * a million blobs, which ext4 and xfs index well), staged in `staging/`, on the same
 * filesystem so that publishing is a rename. Durability: the staged file is fsynced before the
 * rename and the target folder after it, so an acknowledged blob survives a power cut.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = "local" as const;
  private readonly stagingDir: string;
  private readonly blobsDir: string;
  /** Files staged with deferSync, still open until they are made durable (or discarded). */
  private readonly unsynced = new WeakMap<StagedBlob, FileHandle>();
  /** One open handle per shard folder, to fsync it after a rename without reopening it. */
  private readonly shardHandles = new Map<string, Promise<FileHandle>>();

  constructor(root: string) {
    this.stagingDir = join(root, "staging");
    this.blobsDir = join(root, "blobs");
  }

  /** Creates the staging folder and the 256 shard folders up front: publishing never mkdirs. */
  async init(): Promise<void> {
    // The bytes are readable by the server's user only, whatever the data folder's mode.
    for (const dir of [this.stagingDir, this.blobsDir]) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.chmod(dir, 0o700);
    }
    await Promise.all(SHARDS.map((shard) => fs.mkdir(join(this.blobsDir, shard), { recursive: true, mode: 0o700 })));
  }

  async close(): Promise<void> {
    const handles = [...this.shardHandles.values()];
    this.shardHandles.clear();
    await Promise.all(handles.map(async (h) => (await h).close()));
  }

  async sweepStaging(): Promise<number> {
    await this.init();
    const entries = await fs.readdir(this.stagingDir);
    await Promise.all(entries.map((e) => fs.rm(join(this.stagingDir, e), { force: true, recursive: true })));
    return entries.length;
  }

  async stage(body: Readable, options: StageOptions): Promise<StagedBlob> {
    const stagingId = `${Date.now().toString(36)}-${randomBytes(8).toString("hex")}`;
    const localPath = join(this.stagingDir, stagingId);
    const sha = createHash("sha256");
    let crc = 0;
    let size = 0;
    // Small bodies (most images) are also kept in memory: one write, and the probe reads them there.
    let held: Buffer[] | undefined = [];
    // Large bodies are written in batches of chunks, one batch in flight while the next fills:
    // a write per socket chunk (64 KiB) made the disk wait on the network and the other way round.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const file = await fs.open(localPath, "wx", 0o600);
    try {
      // Not destroyed when the loop stops early: after a storage fault the rest is drained, so
      // the client reads the answer instead of a reset connection.
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        options.signal?.throwIfAborted();
        size += chunk.length;
        if (size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
        sha.update(chunk);
        crc = crc32c(chunk, crc);
        if (held) {
          held.push(chunk);
          if (size <= IN_MEMORY_LIMIT) continue;
          batch = held;
          batchBytes = size;
          held = undefined;
        } else {
          batch.push(chunk);
          batchBytes += chunk.length;
        }
        if (batchBytes >= WRITE_BATCH) {
          await inFlight;
          inFlight = writeAllv(file, batch);
          // Awaited at the next batch or at the end; until then a failure must not count as unhandled.
          inFlight.catch(() => undefined);
          batch = [];
          batchBytes = 0;
        }
      }
      await inFlight;
      if (batch.length > 0) await writeAllv(file, batch);
      // A body that came in one piece (a batch frame) is kept as it is, not copied.
      const bytes = held ? (held.length === 1 ? held[0]! : Buffer.concat(held, size)) : undefined;
      if (bytes) await writeAll(file, bytes);
      const staged: StagedBlob = {
        stagingId,
        localPath,
        size,
        sha256: sha.digest("hex"),
        crc32c: crc | 0,
        ...(bytes ? { bytes } : {}),
        durable: !options.deferSync,
      };
      if (options.deferSync) {
        // Kept open for publishMany's fsync: reopening each file cost an open and a close more.
        this.unsynced.set(staged, file);
      } else {
        await file.sync();
        await file.close();
      }
      return staged;
    } catch (err) {
      await inFlight.catch(() => undefined);
      await file.close().catch(() => undefined);
      await fs.rm(localPath, { force: true }).catch(() => undefined);
      if (err instanceof BlobTooLargeError || options.signal?.aborted) body.destroy();
      else drainBody(body, options.maxBytes - size);
      throw err;
    }
  }

  async publish(staged: StagedBlob): Promise<void> {
    await this.moveIntoPlace(staged);
    await this.syncShard(staged.sha256.slice(0, 2));
  }

  async publishMany(staged: StagedBlob[]): Promise<void> {
    // Every file durable and renamed (their waits overlap), then each folder synced once.
    await Promise.all(staged.map((s) => this.moveIntoPlace(s)));
    await Promise.all([...new Set(staged.map((s) => s.sha256.slice(0, 2)))].map((shard) => this.syncShard(shard)));
  }

  /** Makes staged bytes durable (if they were staged without) and renames them to their digest. */
  private async moveIntoPlace(staged: StagedBlob): Promise<void> {
    if (staged.durable === false) {
      const file = this.unsynced.get(staged) ?? (await fs.open(staged.localPath, "r+"));
      this.unsynced.delete(staged);
      try {
        await file.sync();
      } finally {
        await file.close();
      }
    }
    // What was measured must be what the disk holds: a blob shorter than its row would be
    // served cut (and deduplicated against). Costs one stat.
    const { size } = await fs.stat(staged.localPath);
    if (size !== staged.size) {
      throw new StorageIOError(`staged bytes are ${size} bytes on disk, ${staged.size} were written (a short write)`);
    }
    // Same bytes under the same name: renaming over an existing blob is harmless and atomic.
    await fs.rename(staged.localPath, this.pathOf(staged.sha256));
  }

  private async syncShard(shard: string): Promise<void> {
    let handle = this.shardHandles.get(shard);
    if (!handle) {
      handle = fs.open(join(this.blobsDir, shard), "r");
      this.shardHandles.set(shard, handle);
    }
    await (await handle).sync();
  }

  async discard(staged: StagedBlob): Promise<void> {
    const open = this.unsynced.get(staged);
    this.unsynced.delete(staged);
    await open?.close().catch(() => undefined);
    await fs.rm(staged.localPath, { force: true });
  }

  read(sha256: string, range?: ByteRange): Readable {
    return createReadStream(this.pathOf(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async openRead(sha256: string): Promise<BlobReader | undefined> {
    let handle: FileHandle;
    try {
      handle = await fs.open(this.pathOf(sha256), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    let size: number;
    try {
      size = (await handle.stat()).size;
    } catch (err) {
      await handle.close();
      throw err;
    }
    return {
      size,
      stream: (range) => handle.createReadStream(range ? { start: range.start, end: range.end } : {}),
      close: () => handle.close(),
    };
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await fs.stat(this.pathOf(sha256))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async delete(sha256: string): Promise<void> {
    await fs.rm(this.pathOf(sha256), { force: true });
  }

  async *list(): AsyncIterable<string> {
    for (const shard of SHARDS) {
      for (const name of await fs.readdir(join(this.blobsDir, shard)).catch(() => [])) {
        if (SHA256_HEX.test(name)) yield name;
      }
    }
  }

  localPath(sha256: string): string {
    return this.pathOf(sha256);
  }

  /** Only ever a SHA-256 becomes a path here: no client-supplied name reaches the filesystem. */
  private pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a SHA-256 digest: ${sha256}`);
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }
}
