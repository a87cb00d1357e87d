import { copyFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { BlobStore } from "../store/blob/blob-store.js";
import { LocalBlobStore } from "../store/blob/local.js";
import { openBlobDestination, type BlobDestination } from "./blob-target.js";
import { copyBlobs, referencedBlobs, verifyBlobs, type BlobCopy, type BlobProblem } from "./copy-blobs.js";
import { copyRows, resetSequences, tableCount, tableDigest, type TableCopy } from "./copy-rows.js";
import { openSource, openTarget } from "./endpoints.js";
import { TABLES } from "./tables.js";
import { checkSchemaCovered, checkTargetBelongs } from "./preflight.js";

/**
 * How the end of a move is checked. `full` (the default): every table's row count and content
 * digest equal on both sides, every referenced blob read back from the target and hashed.
 * `sizes`: the same for rows, blobs by presence and size only. `counts`: row counts and blob
 * sizes, no digests (for very large moves checked otherwise).
 */
export type VerifyLevel = "full" | "sizes" | "counts";

export interface MigrateOptions {
  /** The stopped embedded deployment: `metadata.sqlite` and `blobs/`. */
  fromDataDir: string;
  /** The PostgreSQL database to move the metadata to. */
  databaseUrl: string;
  /** Where the bytes go; default: they stay in the source folder (a local store read in place). */
  blobs?: BlobDestination;
  verify?: VerifyLevel;
  chunkRows?: number;
  blobConcurrency?: number;
  signal?: AbortSignal;
  /** For tests of resumption: stop, as an interruption would, after this many items (rows and blobs). */
  stopAfter?: number;
  onProgress?: (event: MigrateProgress) => void;
}

export type MigrateProgress =
  | { phase: "blobs"; done: number; total: number; copied: number }
  | { phase: "rows"; table: string; inserted: number }
  | { phase: "verify"; step: string };

export interface TableCheck {
  table: string;
  sourceRows: number;
  targetRows: number;
  /** Whether the content digests agree (undefined at `counts`). */
  digestsEqual?: boolean;
}

export interface MigrateReport {
  fromDataDir: string;
  /** Where the new server's blobs are: a local folder (its VI_DATA_DIR) or a bucket. */
  blobDestination: BlobDestination;
  blobs: BlobCopy & { referenced: number };
  tables: (TableCopy & TableCheck)[];
  verify: { level: VerifyLevel; blobsChecked: number; bytesRead: number; blobProblems: BlobProblem[] };
  /** True when every check passed: the target may serve. */
  verified: boolean;
}

/** An interruption asked for by `stopAfter` (a test hook); a re-run continues. */
export class MigrationStoppedError extends Error {
  override readonly name = "MigrationStoppedError";
}

/**
 * Moves an embedded deployment (SQLite + local folder) to PostgreSQL (and to another blob store
 * when given one), then checks the result. Order: bytes first, then rows (so that no row in the
 * target ever names bytes it lacks), then the sequences, then the checks. Every step is
 * idempotent, so running it again after an interruption continues and ends in the same state.
 */
export async function migrateDeployment(options: MigrateOptions): Promise<MigrateReport> {
  const fromDataDir = resolve(options.fromDataDir);
  const destination = options.blobs ?? { kind: "local", dataDir: fromDataDir };
  const level = options.verify ?? "full";
  const chunkRows = options.chunkRows ?? 500;
  const concurrency = options.blobConcurrency ?? 8;
  const { signal, onProgress } = options;
  let budget = options.stopAfter ?? Infinity;
  const spend = () => {
    if (budget-- <= 0) throw new MigrationStoppedError(`stopped after ${options.stopAfter} items, as asked`);
  };

  const source = await openSource(fromDataDir);
  const closers: (() => Promise<void>)[] = [source.close];
  try {
    await checkSchemaCovered(source.db);
    const target = await openTarget(options.databaseUrl);
    closers.push(target.close);
    await checkTargetBelongs(source.db, target.db);

    const sourceBlobs = new LocalBlobStore(fromDataDir);
    closers.push(() => sourceBlobs.close());
    const inPlace = destination.kind === "local" && resolve(destination.dataDir) === fromDataDir;
    const targetBlobs: BlobStore = inPlace ? sourceBlobs : await openBlobDestination(destination, fromDataDir);
    if (!inPlace) closers.push(() => targetBlobs.close());

    const blobs = await referencedBlobs(source.db);
    let done = 0;
    let copied = 0;
    const copy = await copyBlobs(blobs, sourceBlobs, targetBlobs, {
      concurrency,
      ...(signal ? { signal } : {}),
      beforeBlob: spend,
      onBlob: (_, wrote) =>
        onProgress?.({ phase: "blobs", done: ++done, total: blobs.length, copied: (copied += wrote ? 1 : 0) }),
    });
    if (destination.kind === "local" && !inPlace) await carryCredentials(fromDataDir, destination.dataDir);

    const copies = await copyRows(source.db, target.db, {
      chunkRows,
      ...(signal ? { signal } : {}),
      beforeChunk: spend,
      onChunk: (table, inserted) => onProgress?.({ phase: "rows", table, inserted }),
    });
    await resetSequences(target.db);

    onProgress?.({ phase: "verify", step: "rows" });
    const tables: (TableCopy & TableCheck)[] = [];
    for (const [i, table] of TABLES.entries()) {
      signal?.throwIfAborted();
      const check: TableCheck =
        level === "counts"
          ? {
              table: table.name,
              sourceRows: await tableCount(source.db, table),
              targetRows: await tableCount(target.db, table),
            }
          : await digestsOf(table, chunkRows);
      tables.push({ ...copies[i]!, ...check });
    }
    onProgress?.({ phase: "verify", step: "blobs" });
    const checked = await verifyBlobs(blobs, targetBlobs, {
      readBack: level === "full",
      concurrency,
      ...(signal ? { signal } : {}),
    });
    const verified =
      checked.problems.length === 0 && tables.every((t) => t.sourceRows === t.targetRows && t.digestsEqual !== false);
    return {
      fromDataDir,
      blobDestination: destination,
      blobs: { ...copy, referenced: blobs.length },
      tables,
      verify: { level, blobsChecked: checked.checked, bytesRead: checked.bytesRead, blobProblems: checked.problems },
      verified,
    };

    async function digestsOf(table: (typeof TABLES)[number], rows: number): Promise<TableCheck> {
      const [a, b] = [await tableDigest(source.db, table, rows), await tableDigest(target.db, table, rows)];
      return { table: table.name, sourceRows: a.rows, targetRows: b.rows, digestsEqual: a.sha256 === b.sha256 };
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

/**
 * The moved deployment keeps its key file: `vi-cli` run from the new data folder finds the same
 * organization and key (the new server refreshes only its endpoint). An existing file is kept.
 */
async function carryCredentials(fromDataDir: string, toDataDir: string): Promise<void> {
  const from = join(fromDataDir, "credentials.json");
  const to = join(toDataDir, "credentials.json");
  const exists = (p: string) =>
    stat(p).then(
      () => true,
      () => false,
    );
  if ((await exists(from)) && !(await exists(to))) await copyFile(from, to);
}
