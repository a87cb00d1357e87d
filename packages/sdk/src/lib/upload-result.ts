import type { IngestionSession } from "@vi/protocol";
import { formatBytes } from "./progress.js";

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
  }

  /** Files neither committed nor failed: still in flight, or never tried after a FailAfterOne stop. */
  get totalPending(): number {
    return Math.max(0, this.totalFiles - this.totalSucceeded - this.totalFailed);
  }

  summary(): string {
    const seconds = this.durationMs / 1000;
    const deduplicated = this.sessions.reduce((n, s) => n + (s.status.deduplicated?.length ?? 0), 0);
    const lines = ["Upload summary"];
    const counts = [`${this.totalFiles} total`, `${this.totalSucceeded} succeeded`, `${this.totalFailed} failed`];
    if (this.totalPending > 0) counts.push(`${this.totalPending} not finished`);
    lines.push(`  Files:        ${counts.join(", ")}`);
    if (deduplicated > 0) lines.push(`  Deduplicated: ${deduplicated} (bytes already stored, none sent)`);
    lines.push(`  Success rate: ${this.successRate.toFixed(1)}%`);
    const rate =
      seconds > 0
        ? ` (${(this.totalFiles / seconds).toFixed(1)} files/s, ${formatBytes(this.bytesSent / seconds)}/s)`
        : "";
    lines.push(`  Sent:         ${formatBytes(this.bytesSent)}`);
    lines.push(`  Duration:     ${seconds.toFixed(1)} s${rate}`);
    if (this.sessions.length > 1) {
      lines.push(`  Batches:      ${this.sessions.length}`);
      for (const [i, session] of this.sessions.entries()) {
        const c = session.status.progressCount;
        lines.push(
          `    #${i + 1} ${session.assetIngestionSessionId}: ${c.total} files, ${c.succeeded} succeeded, ${c.errored} failed`,
        );
      }
    } else if (this.sessions.length === 1) {
      lines.push(`  Session:      ${this.sessionIds[0]}`);
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
