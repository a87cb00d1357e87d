import { createHash } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { BlobStore } from "../store/blob/blob-store.js";
import type { Database } from "../store/metadata/schema.js";
import { forEachLimit } from "../util/for-each-limit.js";

/** Bytes the metadata references: an asset's or a thumbnail's, with the size recorded for them. */
export interface ReferencedBlob {
  sha256: string;
  size: number;
}

/**
 * Every blob the source's rows reference, with its size: the `blobs` table (assets and
 * thumbnails, counted in ref_count) and, should a row lack its `blobs` entry, the asset or
 * thumbnail column itself. Sorted by digest, so that runs visit them in the same order.
 */
export async function referencedBlobs(db: Kysely<Database>): Promise<ReferencedBlob[]> {
  const { rows } = await sql<{ sha256: string; size: unknown }>`
    select sha256, size from blobs
    union select sha256, file_size from assets a where not exists (select 1 from blobs b where b.sha256 = a.sha256)
    union select thumbnail_sha256, thumbnail_size from assets a
      where thumbnail_sha256 is not null and not exists (select 1 from blobs b where b.sha256 = a.thumbnail_sha256)
    order by 1`.execute(db);
  return rows.map((r) => ({ sha256: r.sha256, size: Number(r.size) }));
}

export interface BlobCopyOptions {
  /** Blobs copied at once: overlaps the latency of a remote store. */
  concurrency: number;
  signal?: AbortSignal;
  /** Called before each blob: throws to stop the copy (an interruption). */
  beforeBlob?: () => void;
  onBlob?: (blob: ReferencedBlob, copied: boolean) => void;
}

export interface BlobCopy {
  /** Blobs written to the target by this run. */
  copied: number;
  bytesCopied: number;
  /** Blobs the target held already with the right size (a previous run's, or the same store). */
  present: number;
}

/**
 * Copies each referenced blob the target lacks (or holds at another size: a cut copy of an
 * interrupted run) through the target's own staging: `stage` measures the bytes as they stream,
 * and they are published only when they hash to their name and have the recorded size. So the
 * target never holds a wrong blob under a right name, and a re-run skips what is there.
 */
export async function copyBlobs(
  blobs: ReferencedBlob[],
  source: BlobStore,
  target: BlobStore,
  options: BlobCopyOptions,
): Promise<BlobCopy> {
  const result: BlobCopy = { copied: 0, bytesCopied: 0, present: 0 };
  await forEachLimit(blobs, options.concurrency, async (blob) => {
    options.signal?.throwIfAborted();
    if ((await target.size(blob.sha256)) === blob.size) {
      result.present++;
      options.onBlob?.(blob, false);
      return;
    }
    options.beforeBlob?.();
    const reader = await source.openRead(blob.sha256);
    if (!reader) throw new Error(`blob ${blob.sha256} is missing from the source (run vi-cli fsck on it)`);
    if (reader.size !== blob.size) {
      await reader.close();
      throw new Error(
        `blob ${blob.sha256} is ${reader.size} bytes in the source, ${blob.size} recorded (run vi-cli fsck)`,
      );
    }
    const staged = await target.stage(reader.stream(), {
      maxBytes: blob.size,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (staged.sha256 !== blob.sha256 || staged.size !== blob.size) {
      await target.discard(staged);
      throw new Error(`blob ${blob.sha256} read back from the source as ${staged.sha256} (run vi-cli fsck)`);
    }
    await target.publish(staged);
    result.copied++;
    result.bytesCopied += blob.size;
    options.onBlob?.(blob, true);
  });
  return result;
}

/** A referenced blob the target does not hold as recorded. */
export interface BlobProblem {
  sha256: string;
  problem: "missing" | "size-mismatch" | "sha256-mismatch";
}

/**
 * Checks every referenced blob in the target: present, with its size and, when `readBack`, bytes
 * that hash to their name (each read back whole from the target, not trusted from the copy).
 */
export async function verifyBlobs(
  blobs: ReferencedBlob[],
  target: BlobStore,
  options: { readBack: boolean; concurrency: number; signal?: AbortSignal },
): Promise<{ checked: number; bytesRead: number; problems: BlobProblem[] }> {
  const problems: BlobProblem[] = [];
  let bytesRead = 0;
  await forEachLimit(blobs, options.concurrency, async (blob) => {
    options.signal?.throwIfAborted();
    if (!options.readBack) {
      const size = await target.size(blob.sha256);
      if (size !== blob.size)
        problems.push({ sha256: blob.sha256, problem: size === undefined ? "missing" : "size-mismatch" });
      return;
    }
    const reader = await target.openRead(blob.sha256);
    if (!reader) return void problems.push({ sha256: blob.sha256, problem: "missing" });
    if (reader.size !== blob.size) {
      await reader.close();
      return void problems.push({ sha256: blob.sha256, problem: "size-mismatch" });
    }
    const hash = createHash("sha256");
    for await (const chunk of reader.stream() as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytesRead += chunk.length;
    }
    if (hash.digest("hex") !== blob.sha256) problems.push({ sha256: blob.sha256, problem: "sha256-mismatch" });
  });
  return { checked: blobs.length, bytesRead, problems };
}
