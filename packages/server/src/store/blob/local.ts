import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { crc32c } from "@node-rs/crc32";
import { BlobTooLargeError, type BlobStore, type ByteRange, type StagedBlob, type StageOptions } from "./blob-store.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Blobs in a local folder: `blobs/ab/cd/<sha256>`, staged in `staging/`, on the same
 * filesystem so that publishing is a rename. Durability: the staged file is fsynced before the
 * rename and the target folder after it, so an acknowledged blob survives a power cut.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = "local" as const;
  private readonly stagingDir: string;
  private readonly blobsDir: string;
  private readonly knownDirs = new Set<string>();

  constructor(root: string) {
    this.stagingDir = join(root, "staging");
    this.blobsDir = join(root, "blobs");
  }

  async init(): Promise<void> {
    await fs.mkdir(this.stagingDir, { recursive: true });
    await fs.mkdir(this.blobsDir, { recursive: true });
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
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > options.maxBytes) {
          done(new BlobTooLargeError(options.maxBytes));
          return;
        }
        sha.update(chunk);
        crc = crc32c(chunk, crc);
        done(null, chunk);
      },
    });
    const out = createWriteStream(localPath, { flags: "wx", highWaterMark: 1 << 20 });
    try {
      await pipeline(body, meter, out, options.signal ? { signal: options.signal } : {});
      const fh = await fs.open(localPath, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await fs.rm(localPath, { force: true });
      throw err;
    }
    return { stagingId, localPath, size, sha256: sha.digest("hex"), crc32c: crc | 0 };
  }

  async publish(staged: StagedBlob): Promise<void> {
    const target = this.pathOf(staged.sha256);
    const dir = join(target, "..");
    if (!this.knownDirs.has(dir)) {
      await fs.mkdir(dir, { recursive: true });
      this.knownDirs.add(dir);
    }
    // Same bytes under the same name: renaming over an existing blob is harmless and atomic.
    await fs.rename(staged.localPath, target);
    const dh = await fs.open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  async discard(staged: StagedBlob): Promise<void> {
    await fs.rm(staged.localPath, { force: true });
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== undefined;
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await fs.stat(this.pathOf(sha256))).size;
    } catch {
      return undefined;
    }
  }

  read(sha256: string, range?: ByteRange): Readable {
    return createReadStream(this.pathOf(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async delete(sha256: string): Promise<void> {
    await fs.rm(this.pathOf(sha256), { force: true });
  }

  async *list(): AsyncIterable<string> {
    for (const a of await fs.readdir(this.blobsDir).catch(() => [])) {
      for (const b of await fs.readdir(join(this.blobsDir, a)).catch(() => [])) {
        for (const name of await fs.readdir(join(this.blobsDir, a, b)).catch(() => [])) {
          if (SHA256_HEX.test(name)) yield name;
        }
      }
    }
  }

  /** Only ever a SHA-256 becomes a path here: no client-supplied name reaches the filesystem. */
  private pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a SHA-256 digest: ${sha256}`);
    return join(this.blobsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }
}
