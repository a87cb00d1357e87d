import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { forEachLimit } from "../util/for-each-limit.js";
import type { S3Config } from "../config.js";
import { bucketSource, type BlobSource } from "./fsck-bucket.js";

export interface FsckOptions {
  /** The data dir of a stopped server: `metadata.sqlite`, `blobs/`, `staging/`. */
  dataDir: string;
  /** Move damaged blobs to `<dataDir>/quarantine/` (default: only report them). */
  quarantine?: boolean;
  /** The bucket a server with an S3 store keeps its bytes in (its data dir holds the metadata). */
  s3?: S3Config;
  /** Called after each blob is checked, for a progress display. */
  onProgress?: (progress: { blobsChecked: number; bytesChecked: number }) => void;
}

/** Bytes that do not match their name (their SHA-256) or their recorded size. */
export interface DamagedBlob {
  sha256: string;
  problem: "sha256-mismatch" | "size-mismatch";
  /** The size on disk. */
  size: number;
  /** The size the metadata records, when an asset references these bytes. */
  expectedSize?: number;
  /** What the bytes on disk hash to. */
  actualSha256: string;
  /** Where the file went, with `quarantine`. */
  quarantinedTo?: string;
}

/** An asset whose bytes are missing or damaged: a row without (good) bytes. */
export interface AssetWithoutBytes {
  orgId: string;
  datasetId: string;
  assetId: string;
  filename: string;
  sha256: string;
  fileSize: number;
  problem: "missing" | "damaged";
}

export interface FsckReport {
  dataDir: string;
  /** Blob files read and hashed. */
  blobsChecked: number;
  bytesChecked: number;
  /** Blobs whose bytes do not hash to their name, or differ from the recorded size. */
  damaged: DamagedBlob[];
  /** Rows without bytes: assets whose blob is missing or damaged. */
  assetsWithoutBytes: AssetWithoutBytes[];
  /**
   * Assets whose thumbnail's bytes are missing or damaged (their own bytes may be fine):
   * `vi-cli datasets reprocess <dataset> --all` makes them again.
   */
  thumbnailsWithoutBytes: Omit<AssetWithoutBytes, "fileSize">[];
  /** Bytes without rows: blobs no asset references (a server's crash sweep removes these). */
  unreferencedBlobs: { sha256: string; size: number }[];
  /** Files under `blobs/` that are not a SHA-256 in its shard folder (not the server's). */
  strayFiles: string[];
  /** Leftovers of interrupted uploads in `staging/` (a server removes them when it starts). */
  stagingFiles: number;
  /** Nothing above needs attention (staging leftovers aside). */
  clean: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Files hashed at once: enough to keep a disk busy, few enough for a small machine. */
const PARALLEL = 4;

/**
 * Checks a stopped server's data dir: every blob is read and hashed against its name, the
 * metadata's references are compared with the blobs present, and the findings come back as a
 * report (nothing is changed, except that with `quarantine` damaged blobs are moved to
 * `<dataDir>/quarantine/<sha256>`, after which their assets answer "bytes missing" instead of
 * serving damaged bytes, and an upload of the same file stores them again).
 *
 * The server holds its database exclusively while it runs, so a running server makes this
 * throw (stop it first).
 */
export async function fsck(options: FsckOptions): Promise<FsckReport> {
  const { dataDir } = options;
  const dbFile = join(dataDir, "metadata.sqlite");
  await fs.access(dbFile).catch(() => {
    throw new Error(`${dataDir} holds no metadata.sqlite: not a Vi data dir`);
  });
  const db = openReadOnly(dbFile);
  try {
    const report: FsckReport = {
      dataDir,
      blobsChecked: 0,
      bytesChecked: 0,
      damaged: [],
      assetsWithoutBytes: [],
      thumbnailsWithoutBytes: [],
      unreferencedBlobs: [],
      strayFiles: [],
      stagingFiles: 0,
      clean: true,
    };
    const recorded = db.prepare("select sha256, size from blobs where sha256 >= ? and sha256 < ?");
    // Assets whose bytes have no row in `blobs` (should be none) still count as references.
    const unrecorded = new Map<string, number>();
    for (const row of db
      .prepare(
        "select distinct a.sha256, a.file_size from assets a where not exists (select 1 from blobs b where b.sha256 = a.sha256)",
      )
      .iterate() as Iterable<{ sha256: string; file_size: number }>) {
      unrecorded.set(row.sha256, row.file_size);
    }
    const missing = new Set<string>();
    const damagedReferenced = new Set<string>();
    const source: BlobSource = options.s3 ? await bucketSource(options.s3, dataDir) : folderSource(dataDir);

    for (let i = 0; i < 256; i++) {
      const shard = i.toString(16).padStart(2, "0");
      const upper = (i + 1).toString(16).padStart(2, "0");
      const expected = new Map<string, number>();
      for (const row of recorded.iterate(shard, i === 255 ? "g" : upper) as Iterable<{ sha256: string; size: number }>)
        expected.set(row.sha256, row.size);
      for (const [sha, size] of unrecorded) if (sha.startsWith(shard)) expected.set(sha, size);

      const names = await source.list(shard);
      const blobs: string[] = [];
      for (const name of names) {
        if (SHA256_HEX.test(name) && name.startsWith(shard)) blobs.push(name);
        else report.strayFiles.push(source.display(shard, name));
      }
      const present = new Set(blobs);
      for (const sha of expected.keys()) if (!present.has(sha)) missing.add(sha);

      await forEachLimit(blobs, PARALLEL, async (sha) => {
        const hashed = await source.hash(shard, sha);
        if (!hashed) {
          report.strayFiles.push(source.display(shard, sha));
          return;
        }
        const { digest, size } = hashed;
        report.blobsChecked++;
        report.bytesChecked += size;
        options.onProgress?.({ blobsChecked: report.blobsChecked, bytesChecked: report.bytesChecked });
        const expectedSize = expected.get(sha);
        if (expectedSize === undefined) report.unreferencedBlobs.push({ sha256: sha, size });
        const problem =
          digest !== sha
            ? "sha256-mismatch"
            : expectedSize !== undefined && expectedSize !== size
              ? "size-mismatch"
              : undefined;
        if (!problem) return;
        const finding: DamagedBlob = {
          sha256: sha,
          problem,
          size,
          ...(expectedSize !== undefined ? { expectedSize } : {}),
          actualSha256: digest,
        };
        if (expectedSize !== undefined) damagedReferenced.add(sha);
        if (options.quarantine) finding.quarantinedTo = await source.quarantine(shard, sha);
        report.damaged.push(finding);
      });
    }

    if (missing.size > 0 || damagedReferenced.size > 0) {
      const assets = db.prepare(
        "select org_id, dataset_id, asset_id, filename, sha256, file_size from assets order by org_id, dataset_id, seq",
      );
      for (const a of assets.iterate() as Iterable<{
        org_id: string;
        dataset_id: string;
        asset_id: string;
        filename: string;
        sha256: string;
        file_size: number;
      }>) {
        const problem = missing.has(a.sha256) ? "missing" : damagedReferenced.has(a.sha256) ? "damaged" : undefined;
        if (!problem) continue;
        report.assetsWithoutBytes.push({
          orgId: a.org_id,
          datasetId: a.dataset_id,
          assetId: a.asset_id,
          filename: a.filename,
          sha256: a.sha256,
          fileSize: a.file_size,
          problem,
        });
      }
    }

    if (missing.size > 0 || damagedReferenced.size > 0) {
      const thumbnails = db.prepare(
        "select org_id, dataset_id, asset_id, filename, thumbnail_sha256 from assets where thumbnail_sha256 is not null order by org_id, dataset_id, seq",
      );
      for (const a of thumbnails.iterate() as Iterable<{
        org_id: string;
        dataset_id: string;
        asset_id: string;
        filename: string;
        thumbnail_sha256: string;
      }>) {
        const sha = a.thumbnail_sha256;
        const problem = missing.has(sha) ? "missing" : damagedReferenced.has(sha) ? "damaged" : undefined;
        if (!problem) continue;
        report.thumbnailsWithoutBytes.push({
          orgId: a.org_id,
          datasetId: a.dataset_id,
          assetId: a.asset_id,
          filename: a.filename,
          sha256: sha,
          problem,
        });
      }
    }

    report.stagingFiles = await source.stagingCount();
    await source.close();
    const bySha = (x: { sha256: string }, y: { sha256: string }) => x.sha256.localeCompare(y.sha256);
    report.damaged.sort(bySha);
    report.unreferencedBlobs.sort(bySha);
    report.strayFiles.sort();
    report.clean =
      report.damaged.length === 0 &&
      report.assetsWithoutBytes.length === 0 &&
      report.thumbnailsWithoutBytes.length === 0 &&
      report.unreferencedBlobs.length === 0 &&
      report.strayFiles.length === 0;
    return report;
  } finally {
    db.close();
  }
}

/** The local store's folder: `blobs/<shard>/<sha256>`, `staging/`, and `quarantine/` for findings. */
function folderSource(dataDir: string): BlobSource {
  const folder = (shard: string) => join(dataDir, "blobs", shard);
  return {
    list: (shard) =>
      fs.readdir(folder(shard)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return [];
        throw err;
      }),
    display: (shard, name) => join("blobs", shard, name),
    async hash(shard, sha) {
      const path = join(folder(shard), sha);
      if (!(await fs.stat(path)).isFile()) return undefined;
      return hashFile(path);
    },
    quarantine: (shard, sha) => moveToQuarantine(join(folder(shard), sha), join(dataDir, "quarantine"), sha),
    stagingCount: async () => (await fs.readdir(join(dataDir, "staging")).catch(() => [])).length,
    close: async () => undefined,
  };
}

function openReadOnly(file: string): BetterSqlite3.Database {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 0");
    // The first read takes the lock a running server holds.
    db.prepare("select count(*) from blobs").get();
    return db;
  } catch (err) {
    db?.close();
    const code = (err as { code?: string }).code;
    if (code === "SQLITE_BUSY" || code === "SQLITE_BUSY_RECOVERY") {
      throw new Error(`${file} is in use (a server is running on this data dir): stop the server first`, {
        cause: err,
      });
    }
    throw err;
  }
}

async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: hash.digest("hex"), size };
}

async function moveToQuarantine(path: string, dir: string, sha256: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  for (let n = 0; ; n++) {
    const target = join(dir, n === 0 ? sha256 : `${sha256}.${n}`);
    try {
      // Never over an earlier finding: link first (fails if taken), then drop the original.
      await fs.link(path, target);
      await fs.unlink(path);
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}
