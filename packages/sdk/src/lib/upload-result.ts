import type { IngestionSession } from "@vi/protocol";
import type { UnmatchedMetadataEntry } from "./custom-metadata.js";
import { formatBytes } from "./progress.js";
import { describeSkipped, type SkippedFile } from "./walk.js";

export interface FailedFile {
  /** The local path. */
  path: string;
  /** Its name in the dataset. */
  filename: string;
  /** A file error code of the wire (`ECORRUPT`, `EBADSIZE`, ...). */
  code: string;
  reason: string;
}

export interface AssetUploadResultInit {
  totalFiles: number;
  totalSucceeded: number;
  failedFiles: FailedFile[];
  sessions: IngestionSession[];
  durationMs: number;
  /** Bytes sent to upload targets (deduplicated files send none). */
  bytesSent: number;
  /** Files under the folders given that were left out (not images, links to folders, ...). */
  skippedFiles?: SkippedFile[];
  /** Sidecar entries that named no file of the upload (not applied). */
  unmatchedMetadataEntries?: UnmatchedMetadataEntry[];
  /** FailAfterOne stopped the upload at its first failure: files not settled were not tried to the end. */
  stopped?: boolean;
  /** The upload waited for the server to settle every file (default true; false with `waitUntilDone: false`). */
  waited?: boolean;
  /** The upload's signal aborted it: this is what it did until then. */
  interrupted?: boolean;
}

/** Options of `AssetUploadResult.summary`. */
export interface SummaryOptions {
  /** Name every skipped file and unmatched sidecar entry (default: count them). */
  verbose?: boolean;
}

const MAX_LISTED_FAILURES = 20;

/** What an upload did, over all its batches (one ingestion session per batch). */
export class AssetUploadResult {
  readonly totalFiles: number;
  readonly totalSucceeded: number;
  readonly totalFailed: number;
  /** Succeeded over total files, 0..100. */
  readonly successRate: number;
  readonly failedFiles: FailedFile[];
  readonly sessions: IngestionSession[];
  readonly sessionIds: string[];
  readonly durationMs: number;
  readonly bytesSent: number;
  /** Files under the folders given that were not uploaded, and why (not counted in `totalFiles`). */
  readonly skippedFiles: SkippedFile[];
  /** Entries of `vi-metadata.json` sidecars (or `metadataFile`) that named no file of the upload: a warning, not applied. */
  readonly unmatchedMetadataEntries: UnmatchedMetadataEntry[];
  /**
   * True when `failureMode: "FailAfterOne"` stopped the upload at its first failed file: the
   * `totalPending` files were then never sent, or not to the end.
   */
  readonly stopped: boolean;
  /**
   * Whether the upload waited for the server to verify and commit the files. False with
   * `waitUntilDone: false`: `totalPending` files were sent and are still being settled, and
   * `assets.waitUntilDone` for each of `sessionIds` gives the outcome.
   */
  readonly waited: boolean;
  /**
   * True for the partial result an aborted upload hands to `onInterrupted`: `totalSucceeded`
   * files were committed, `totalPending` were not (yet); running the upload again sends only those.
   */
  readonly interrupted: boolean;

  constructor(init: AssetUploadResultInit) {
    this.totalFiles = init.totalFiles;
    this.totalSucceeded = init.totalSucceeded;
    this.totalFailed = init.failedFiles.length;
    this.successRate = init.totalFiles === 0 ? 0 : (init.totalSucceeded / init.totalFiles) * 100;
    this.failedFiles = init.failedFiles;
    this.sessions = init.sessions;
    this.sessionIds = init.sessions.map((s) => s.assetIngestionSessionId);
    this.durationMs = init.durationMs;
    this.bytesSent = init.bytesSent;
    this.skippedFiles = init.skippedFiles ?? [];
    this.unmatchedMetadataEntries = init.unmatchedMetadataEntries ?? [];
    this.stopped = init.stopped ?? false;
    this.waited = init.waited ?? true;
    this.interrupted = init.interrupted ?? false;
  }

  /** How many files under the folders given were left out. */
  get totalSkipped(): number {
    return this.skippedFiles.length;
  }

  /**
   * Files neither committed nor failed: still being settled by the server (`waited` false), not
   * uploaded after a FailAfterOne stop (`stopped`), or not (yet) committed when interrupted.
   */
  get totalPending(): number {
    return Math.max(0, this.totalFiles - this.totalSucceeded - this.totalFailed);
  }

  /** A few lines for a person: counts, rate, sessions, failed files; `verbose` names skipped files and unmatched sidecar entries. */
  summary(options: SummaryOptions = {}): string {
    const seconds = this.durationMs / 1000;
    const deduplicated = this.sessions.reduce((n, s) => n + (s.status.deduplicated?.length ?? 0), 0);
    const lines = [this.interrupted ? "Upload summary (interrupted)" : "Upload summary"];
    const counts = [`${this.totalFiles} total`, `${this.totalSucceeded} succeeded`, `${this.totalFailed} failed`];
    const settling = !this.stopped && !this.interrupted && !this.waited && this.totalPending > 0;
    const pending = this.stopped
      ? "not uploaded (stopped at the first failure)"
      : this.interrupted
        ? "not committed (interrupted)"
        : settling
          ? "sent, still being settled by the server"
          : "not finished";
    if (this.totalPending > 0) counts.push(`${this.totalPending} ${pending}`);
    lines.push(`  Files:        ${counts.join(", ")}`);
    if (this.totalSkipped > 0) lines.push(`  Skipped:      ${describeSkipped(this.skippedFiles)} (not uploaded)`);
    if (deduplicated > 0) lines.push(`  Deduplicated: ${deduplicated} (bytes already stored, none sent)`);
    // Without waiting, the rate would count files still being verified as not succeeded.
    if (this.interrupted)
      lines.push(`  Status:       interrupted; uploading the same files again sends only what was not committed`);
    else if (settling)
      lines.push(`  Status:       not waited for: the server verifies and commits the files on its own`);
    else lines.push(`  Success rate: ${this.successRate.toFixed(1)}%`);
    // Files that went through: not those an interruption or a stop left behind.
    const done = this.interrupted || this.stopped ? this.totalSucceeded + this.totalFailed : this.totalFiles;
    const rate =
      seconds > 0 ? ` (${(done / seconds).toFixed(1)} files/s, ${formatBytes(this.bytesSent / seconds)}/s)` : "";
    lines.push(`  Sent:         ${formatBytes(this.bytesSent)}`);
    lines.push(`  Duration:     ${seconds.toFixed(1)} s${rate}`);
    if (this.sessions.length > 1) {
      lines.push(`  Batches:      ${this.sessions.length}`);
      for (const [i, session] of this.sessions.entries()) {
        const c = session.status.progressCount;
        lines.push(
          `    #${i + 1} ${session.assetIngestionSessionId}: ${c.total} ${c.total === 1 ? "file" : "files"}, ${c.succeeded} succeeded, ${c.errored} failed`,
        );
      }
    } else if (this.sessions.length === 1) {
      lines.push(`  Session:      ${this.sessionIds[0]}`);
    }
    const unmatched = new Map<string, string[]>();
    for (const { metadataFile, entry } of this.unmatchedMetadataEntries)
      unmatched.set(metadataFile, [...(unmatched.get(metadataFile) ?? []), entry]);
    for (const [file, entries] of unmatched) {
      const n = entries.length;
      lines.push(
        `  Warning:      ${n} ${n === 1 ? "entry" : "entries"} of ${file} named no file of this upload (not applied)`,
      );
      if (options.verbose) for (const entry of entries) lines.push(`    ${JSON.stringify(entry)}`);
    }
    if (options.verbose && this.totalSkipped > 0) {
      lines.push("  Skipped files:");
      for (const f of this.skippedFiles) lines.push(`    ${f.path}  ${f.reason}`);
    }
    if (this.failedFiles.length > 0) {
      lines.push("  Failed files:");
      for (const f of this.failedFiles.slice(0, MAX_LISTED_FAILURES))
        lines.push(`    ${f.path}  ${f.code}  ${f.reason}`);
      if (this.failedFiles.length > MAX_LISTED_FAILURES)
        lines.push(`    ... and ${this.failedFiles.length - MAX_LISTED_FAILURES} more`);
    }
    return lines.join("\n");
  }
}
