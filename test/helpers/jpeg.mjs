// Distinct, valid JPEGs: a real photo with a comment segment of random bytes after SOI. Every
// file decodes to the same picture but no two share bytes, so deduplication never kicks in.
// Shared by the tests and the benchmarks.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

const BASE = readFileSync(
  join(import.meta.dirname, "..", "..", "test-fixtures", "images", "valid", "photo-baseline.jpg"),
);

/** A JPEG of about `size` bytes (at least the base photo's 52 KB). */
export function uniqueJpeg(size = BASE.length + 64) {
  const segments = [];
  for (let left = Math.max(6, size - BASE.length); left > 0;) {
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

/**
 * Writes a valid JPEG of exactly `size` bytes: the photo's headers up to its scan, filler scan
 * data (`fill` repeated, which must hold no 0xFF so that no marker appears), then EOI. The probe
 * reads headers and the end, as for any huge image; every byte is still hashed and stored.
 */
export async function writeLargeJpeg(path, size, fill = Buffer.alloc(4 << 20, 0x5a)) {
  let sos = 2;
  while (!(BASE[sos] === 0xff && BASE[sos + 1] === 0xda)) sos += 2 + BASE.readUInt16BE(sos + 2);
  const header = BASE.subarray(0, sos + 2 + BASE.readUInt16BE(sos + 2));
  const fh = await open(path, "w");
  try {
    await fh.write(header);
    for (let written = header.length; written < size - 2;) {
      const n = Math.min(fill.length, size - 2 - written);
      await fh.write(fill, 0, n);
      written += n;
    }
    await fh.write(Buffer.from([0xff, 0xd9]));
  } finally {
    await fh.close();
  }
}
