// Distinct, valid JPEGs: a real photo with a comment segment of random bytes after SOI. Every
// file decodes to the same picture but no two share bytes, so deduplication never kicks in.
// Shared by the tests and the benchmarks.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const BASE = readFileSync(join(import.meta.dirname, "..", "..", "test-fixtures", "images", "valid", "photo-baseline.jpg"));

/** A JPEG of about `size` bytes (at least the base photo's 52 KB). */
export function uniqueJpeg(size = BASE.length + 64) {
  const segments = [];
  for (let left = Math.max(6, size - BASE.length); left > 0; ) {
    const n = Math.max(2, Math.min(left - 4, 65_533));
    const seg = Buffer.alloc(4 + n);
    seg[0] = 0xff;
    seg[1] = 0xfe; // COM
    seg.writeUInt16BE(n + 2, 2);
    randomBytes(n).copy(seg, 4);
    segments.push(seg);
    left -= seg.length;
  }
  return Buffer.concat([BASE.subarray(0, 2), ...segments, BASE.subarray(2)]);
}
