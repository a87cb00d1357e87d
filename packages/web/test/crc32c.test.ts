import { randomBytes } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import { crc32cOfFile, crc32cUpdate } from "../src/api/crc32c.js";

describe("the gallery's CRC-32C (the manifest's checksum)", () => {
  it("matches the known check value and the server's implementation", async () => {
    expect(crc32cUpdate(0, new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    for (const size of [0, 1, 1000, 70_000]) {
      const bytes = randomBytes(size);
      expect(await crc32cOfFile(new Blob([bytes]))).toBe(crc32c(bytes) | 0);
    }
  });
});
