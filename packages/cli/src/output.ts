/**
 * Output: human text vs `--json`.
 *
 * - stdout carries the command's result: a human table/text, or with `--json` exactly one JSON
 *   document (errors included: `{"error": {...}}`).
 * - stderr carries everything else: warnings, notes, progress bars, and human error lines.
 * - `--quiet` drops notes and warnings (and progress bars); results and errors still print.
 */

/** Where output goes: `process.stdout`/`process.stderr`, or a string buffer in tests. */
export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** The terminal's width, when it is one. */
  columns?: number;
}

export interface OutputMode {
  json: boolean;
  quiet: boolean;
}

/** The JSON shape of an error, on stdout with `--json`. */
export interface JsonError {
  code: string;
  message: string;
  suggestion: string | null;
  requestId: string | null;
  status: number | null;
}

export class Output {
  constructor(
    readonly stdout: Writable,
    readonly stderr: Writable,
    readonly mode: OutputMode,
  ) {}

  get json(): boolean {
    return this.mode.json;
  }

  get quiet(): boolean {
    return this.mode.quiet;
  }

  /** A line of the human result (stdout). Ignored with --json. */
  line(text = ""): void {
    if (!this.mode.json) this.stdout.write(escapeTerminal(text, true) + "\n");
  }

  /** The one JSON document of a --json run (pretty, or on one line with `compact`). */
  document(value: unknown, compact = false): void {
    this.stdout.write((compact ? JSON.stringify(value) : JSON.stringify(value, null, 2)) + "\n");
  }

  /** Result: the human rendering, or with --json the JSON document. */
  result(human: () => void, json: () => unknown, compact = false): void {
    if (this.mode.json) this.document(json(), compact);
    else human();
  }

  /** Informational note on stderr (dropped with --quiet). */
  note(text: string): void {
    if (!this.mode.quiet) this.stderr.write(escapeTerminal(text, true) + "\n");
  }

  warn(text: string): void {
    if (!this.mode.quiet) this.stderr.write(`warning: ${escapeTerminal(text, true)}\n`);
  }

  /** A human error line on stderr; never dropped. */
  errorLine(text: string): void {
    this.stderr.write(escapeTerminal(text, true) + "\n");
  }

  /** Writes raw text to stdout (for streaming JSON). */
  raw(text: string): void {
    this.stdout.write(text);
  }
}

/**
 * Text from the server or the disk (dataset names, filenames, messages) may carry terminal
 * controls: ANSI and OSC sequences that recolour, retitle or rewrite the screen, CR that
 * overwrites a line, bidi overrides (U+202E) that reverse what is shown. Human output shows
 * them escaped (`\u001b`, `\r`), never interprets them. Line breaks are kept only where the
 * CLI itself builds a multi-line text (`keepNewlines`); a value inside a table or a detail
 * line is escaped whole, so it cannot fake a row.
 */
export function escapeTerminal(text: string, keepNewlines = false): string {
  return text.replace(
    /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => {
      if (c === "\n") return keepNewlines ? c : "\\n";
      if (c === "\r") return "\\r";
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    },
  );
}

export interface Column<T> {
  header: string;
  get: (row: T) => string;
  align?: "left" | "right";
}

function pad(text: string, width: number, align: "left" | "right" = "left"): string {
  const n = Math.max(0, width - text.length);
  return align === "right" ? " ".repeat(n) + text : text + " ".repeat(n);
}

function renderRow(cells: string[], widths: number[], columns: Column<never>[]): string {
  return cells
    .map((c, i) => {
      const last = i === cells.length - 1;
      const col = columns[i];
      const align = col?.align ?? "left";
      // Do not pad the last left-aligned column: no trailing spaces.
      return last && align === "left" ? c : pad(c, widths[i] ?? 0, align);
    })
    .join("  ")
    .trimEnd();
}

/** Renders a whole table (header + rows) as lines. */
export function renderTable<T>(columns: Column<T>[], rows: Iterable<T>): string[] {
  const cells = [...rows].map((r) => columns.map((c) => escapeTerminal(c.get(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const cols = columns as Column<never>[];
  return [
    renderRow(
      columns.map((c) => c.header.toUpperCase()),
      widths,
      cols,
    ),
    ...cells.map((row) => renderRow(row, widths, cols)),
  ];
}

/**
 * A table printed page by page (for `--all` over millions of rows): the column widths come from
 * the first page and only grow, so memory stays bounded and columns mostly line up.
 */
export class StreamingTable<T> {
  private widths: number[] | undefined;

  constructor(
    private readonly columns: Column<T>[],
    private readonly emit: (line: string) => void,
  ) {}

  addPage(rows: T[]): void {
    const cells = rows.map((r) => this.columns.map((c) => escapeTerminal(c.get(r))));
    const cols = this.columns as Column<never>[];
    if (!this.widths) {
      this.widths = this.columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
      this.emit(
        renderRow(
          this.columns.map((c) => c.header.toUpperCase()),
          this.widths,
          cols,
        ),
      );
    }
    for (const row of cells) {
      const widths = this.widths;
      row.forEach((c, i) => {
        if (c.length > (widths[i] ?? 0)) widths[i] = c.length;
      });
      this.emit(renderRow(row, widths, cols));
    }
  }

  /** Prints the header even when there were no rows. */
  finish(): void {
    if (!this.widths) this.addPage([]);
  }
}

/** Key/value details, aligned. */
export function renderDetails(pairs: [string, string | number | boolean | null | undefined][]): string[] {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${pad(k + ":", width + 1)} ${v === null ? "-" : escapeTerminal(String(v))}`);
}

/** `1 file`, `2 files`: a count with its noun (`nouns` for one that does not just take an s). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** 1536 -> "1.5 KiB": the SDK's, so that listings, downloads, progress and upload summaries speak one unit. */
export { formatBytes } from "@vi/sdk";

/** Epoch ms -> ISO 8601 (UTC), or "-". */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  return new Date(ms).toISOString();
}
