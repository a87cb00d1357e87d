import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, Progress } from "../src/lib/progress.js";

/** A fake terminal that records what was drawn. */
function terminal(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 120 });
  return { stream, chunks };
}

describe("progress", () => {
  it("draws files, bytes, rate and ETA on a terminal, throttled", () => {
    const { stream, chunks } = terminal(true);
    const progress = new Progress({ stream, intervalMs: 10_000 });
    expect(progress.enabled).toBe(true);
    progress.phase("Uploading", { files: 4, bytes: 4 * 1024 * 1024 });
    progress.update(1, 1024 * 1024);
    progress.update(1, 1024 * 1024);
    // The phase drew once; the updates within the interval did not redraw.
    expect(chunks).toHaveLength(1);
    const line = progress.render();
    expect(line).toMatch(/^Uploading +\[#{10}-{10}\] +50%/);
    expect(line).toContain("2/4 files");
    expect(line).toContain("2.0 MiB/4.0 MiB");
    expect(line).toMatch(/ [\d.]+ (B|KiB|MiB|GiB)\/s /);
    expect(line).toContain("ETA");
    progress.finish();
    expect(chunks.at(-1)).toBe("\n");
    expect(chunks.at(-2)).toMatch(/^\r.*\x1b\[K$/);
  });

  it("a lower-bound total shows as n+ with no bar; a note ends the line; one file is one file", () => {
    const { stream } = terminal(true);
    const progress = new Progress({ stream, intervalMs: 10_000 });
    progress.phase("Download", { files: 1000, atLeast: true });
    progress.update(10, 2048);
    expect(progress.render()).toMatch(/^Download +10\/1000\+ files {2}2\.0 KiB {2}\S+ \S+\/s$/);
    progress.setTotals({ files: 1500, bytes: 4096 });
    expect(progress.render()).toMatch(/^Download +\[#{10}-{10}\] +50% {2}10\/1500 files {2}2\.0 KiB\/4\.0 KiB /);
    progress.setNote("hashed 7/9");
    expect(progress.render()).toMatch(/ {2}hashed 7\/9$/);
    progress.phase("Uploading", { files: 1 });
    expect(progress.render()).toMatch(/0\/1 file$/);
  });

  it("draws nothing when stderr is not a terminal", () => {
    const { stream, chunks } = terminal(false);
    const progress = new Progress({ stream });
    progress.phase("Uploading", { files: 1 });
    progress.update(1, 10);
    progress.finish();
    expect(progress.enabled).toBe(false);
    expect(chunks).toEqual([]);
  });

  it("formats sizes and durations", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1023.6)).toBe("1024 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(1_500_000)).toBe("1.4 MiB");
    expect(formatBytes(150 * 1024 * 1024)).toBe("150 MiB");
    expect(formatBytes(10 * 1024 ** 3)).toBe("10.0 GiB");
    expect(formatDuration(65_000)).toBe("1:05");
    expect(formatDuration(3_725_000)).toBe("1:02:05");
  });
});
