import type { Writable } from "./output.js";

/** pino's numbered levels, as words. */
const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const COLORS: Record<number, string> = { 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[31m" };
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

/** Fields every line has, shown in their own places (or not at all). */
const SHOWN_ELSEWHERE = new Set([
  "level",
  "time",
  "pid",
  "hostname",
  "msg",
  "req",
  "res",
  "responseTime",
  "reqId",
  "err",
]);

const two = (n: number) => String(n).padStart(2, "0");

const value = (v: unknown): string => (typeof v === "string" && !/[\s="]/.test(v) && v !== "" ? v : JSON.stringify(v));

/**
 * One of the server's log lines (pino's JSON) for a person: `12:04:05 INFO  request completed
 * GET /workspaces/... 200 3.1 ms reqId=...`, with an error's stack below it. A line that is not
 * JSON is passed through as it is.
 */
export function formatLogLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return line;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof entry.level === "number" ? entry.level : 30;
  const time = new Date(typeof entry.time === "number" ? entry.time : Date.now());
  const clock = `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
  const label = (LEVELS[level] ?? String(level)).padEnd(5);
  const parts = [
    color ? `${DIM}${clock}${RESET}` : clock,
    color && COLORS[level] ? `${COLORS[level]}${label}${RESET}` : label,
  ];
  parts.push(String(entry.msg ?? ""));
  const req = entry.req as { method?: string; url?: string } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ""}`);
  const res = entry.res as { statusCode?: number } | undefined;
  if (res?.statusCode !== undefined) parts.push(String(res.statusCode));
  if (typeof entry.responseTime === "number") parts.push(`${entry.responseTime.toFixed(1)} ms`);
  for (const [k, v] of Object.entries(entry)) if (!SHOWN_ELSEWHERE.has(k)) parts.push(`${k}=${value(v)}`);
  if (entry.reqId !== undefined)
    parts.push(color ? `${DIM}reqId=${value(entry.reqId)}${RESET}` : `reqId=${value(entry.reqId)}`);
  let text = parts.filter((p) => p !== "").join(" ");
  const err = entry.err as { message?: string; stack?: string } | undefined;
  if (err?.stack) text += `\n${err.stack.replace(/^/gm, "    ")}`;
  else if (err?.message) text += ` error=${value(err.message)}`;
  return text;
}

/** A destination for the server's logger that writes each line pretty to `out` (a terminal). */
export function prettyLogStream(out: Writable, color: boolean): { write(chunk: string): boolean } {
  let pending = "";
  return {
    write(chunk: string): boolean {
      pending += chunk;
      let end: number;
      while ((end = pending.indexOf("\n")) !== -1) {
        out.write(`${formatLogLine(pending.slice(0, end), color)}\n`);
        pending = pending.slice(end + 1);
      }
      return true;
    },
  };
}
