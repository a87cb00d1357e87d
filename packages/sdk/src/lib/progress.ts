/**
 * A one-line progress report on stderr (files, bytes, rate, ETA), redrawn in place at most
 * every `intervalMs`. It only draws when enabled, which by default means stderr is a terminal,
 * so logs and pipes never fill with carriage returns.
 */

export interface ProgressOptions {
  enabled?: boolean | undefined;
  stream?: NodeJS.WriteStream;
  intervalMs?: number;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * A size in binary units, as everything the SDK and vi-cli print (progress, summaries, listings):
 * 1536 -> "1.5 KiB", 10 GiB -> "10.0 GiB"; under 1 KiB, whole bytes. One decimal below 100.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  if (Math.abs(bytes) < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

export class Progress {
  readonly enabled: boolean;
  readonly #stream: NodeJS.WriteStream;
  readonly #intervalMs: number;
  #label = "";
  #files = 0;
  #bytes = 0;
  #totalFiles: number | undefined;
  #totalBytes: number | undefined;
  /** The file total is a lower bound (a listing still paging): no bar until it is known. */
  #filesAtLeast = false;
  #note = "";
  #unit = "files";
  #started = Date.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(options: ProgressOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    this.enabled = options.enabled ?? this.#stream.isTTY === true;
    this.#intervalMs = options.intervalMs ?? 100;
  }

  /**
   * Starts a new stage (hashing, uploading, ...): counters restart. The line is reused, so a stage
   * whose line should stay (it completed) is ended with `finish()` first.
   */
  phase(
    label: string,
    totals: { files?: number | undefined; bytes?: number | undefined; atLeast?: boolean; unit?: string } = {},
  ): void {
    this.#label = label;
    this.#unit = totals.unit ?? "files";
    this.#files = 0;
    this.#bytes = 0;
    this.#totalFiles = totals.files;
    this.#totalBytes = totals.bytes;
    this.#filesAtLeast = totals.atLeast ?? false;
    this.#note = "";
    this.#started = Date.now();
    this.#draw(true);
  }

  /**
   * Sets the totals as they become known: `files` (with `atLeast` while more may come, e.g. a
   * listing still paging), `bytes` (undefined while unknown). Counters are kept.
   */
  setTotals(totals: { files?: number | undefined; bytes?: number | undefined; atLeast?: boolean }): void {
    this.#totalFiles = totals.files;
    this.#totalBytes = totals.bytes;
    this.#filesAtLeast = totals.atLeast ?? false;
    this.#draw(false);
  }

  /** A short text at the end of the line (e.g. `hashed 600/1000` while hashing runs ahead of sending); "" for none. */
  setNote(note: string): void {
    this.#note = note;
    this.#draw(false);
  }

  /** `bytes` may be negative: a retried transfer takes back what its failed attempt counted. */
  update(files: number, bytes: number): void {
    this.#files += files;
    this.#bytes += bytes;
    this.#draw(false);
  }

  /** Draws the final state and moves to a fresh line. */
  finish(): void {
    if (!this.enabled || !this.#drawn) return;
    this.#draw(true);
    this.#stream.write("\n");
    this.#drawn = false;
  }

  render(now: number = Date.now()): string {
    const elapsed = Math.max(1, now - this.#started);
    const rate = (this.#bytes / elapsed) * 1000;
    const parts = [this.#label.padEnd(10)];
    // By bytes when their total is known, else by files when theirs is; no bar while neither is.
    const fraction =
      this.#totalBytes !== undefined && this.#totalBytes > 0
        ? this.#bytes / this.#totalBytes
        : this.#totalFiles !== undefined && this.#totalFiles > 0 && !this.#filesAtLeast
          ? this.#files / this.#totalFiles
          : undefined;
    if (fraction !== undefined) {
      const width = 20;
      const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
      parts.push(`[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
    }
    const total = this.#totalFiles === undefined ? "" : `/${this.#totalFiles}${this.#filesAtLeast ? "+" : ""}`;
    const one = this.#unit === "files" ? "file" : this.#unit === "batches" ? "batch" : this.#unit;
    parts.push(`${this.#files}${total} ${(this.#totalFiles ?? this.#files) === 1 ? one : this.#unit}`);
    // A stage that moves no bytes (waiting for the server) shows no byte counters.
    if (this.#bytes > 0 || this.#totalBytes !== undefined) {
      parts.push(
        `${formatBytes(this.#bytes)}${this.#totalBytes !== undefined ? `/${formatBytes(this.#totalBytes)}` : ""}`,
      );
      parts.push(`${formatBytes(rate)}/s`);
    }
    if (fraction !== undefined && fraction > 0 && fraction < 1) {
      parts.push(`ETA ${formatDuration((elapsed / fraction) * (1 - fraction))}`);
    }
    if (this.#note !== "") parts.push(this.#note);
    return parts.join("  ");
  }

  #draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = now;
    const columns = this.#stream.columns ?? 100;
    // \r returns to the line start and \x1b[K clears what a longer previous line left.
    this.#stream.write(`\r${this.render(now).slice(0, Math.max(20, columns - 1))}\x1b[K`);
    this.#drawn = true;
  }
}
