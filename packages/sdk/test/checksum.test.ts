import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { digestBuffer, digestFile, toSigned32 } from "../src/lib/checksum.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("checksums", () => {
  it("CRC-32C of 123456789 is 0xE3069283, sent as a signed int", () => {
    expect(toSigned32(0xe3069283)).toBe(-486108541);
    expect(digestBuffer(Buffer.from("123456789")).crc32c).toBe(-486108541);
  });

  it("hashes a file in one streaming pass across many chunks", async () => {
    dir = mkdtempSync(join(tmpdir(), "vi-sum-"));
    const data = randomBytes(3 * (1 << 20) + 12345);
    const path = join(dir, "big.bin");
    writeFileSync(path, data);
    const digest = await digestFile(path);
    expect(digest.size).toBe(data.length);
    expect(digest.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    expect(digest.crc32c).toBe(digestBuffer(data).crc32c);
    expect(Number.isInteger(digest.crc32c) && digest.crc32c >= -(2 ** 31) && digest.crc32c < 2 ** 31).toBe(true);
  });

  it("handles an empty file", async () => {
    dir = mkdtempSync(join(tmpdir(), "vi-sum-"));
    writeFileSync(join(dir, "e"), "");
    expect(await digestFile(join(dir, "e"))).toEqual({
      size: 0,
      crc32c: 0,
      sha256: createHash("sha256").digest("hex"),
    });
  });
});
