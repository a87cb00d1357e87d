import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { crc32c } from "@node-rs/crc32";

export interface FileDigest {
  /** Bytes read: the size the manifest declares, whatever the file was when it was listed. */
  size: number;
  /** Big-endian CRC-32C of the whole file read as a signed 32-bit integer (PROTOCOL §3). */
  crc32c: number;
  /** Lower-case hex SHA-256. */
  sha256: string;
}

/** The wire form of a CRC-32C: the unsigned digest reinterpreted as a signed 32-bit integer. */
export const toSigned32 = (value: number): number => value | 0;

/** Both digests of a buffer (for small inputs and tests). */
export function digestBuffer(data: Uint8Array): FileDigest {
  return {
    size: data.length,
    crc32c: toSigned32(crc32c(data)),
    sha256: createHash("sha256").update(data).digest("hex"),
  };
}

const CHUNK = 1 << 20;

/**
 * Both digests of a file in one streaming pass, in bounded memory. It reads through a file
 * handle into one buffer sized to the file (at most 1 MiB) rather than a ReadStream, which
 * allocates a full highWaterMark per read and made hashing many small images several times slower.
 */
export async function digestFile(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const handle = await open(path, "r");
  try {
    const { size: statSize } = await handle.stat();
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(statSize, CHUNK)));
    const sha = createHash("sha256");
    let crc = 0;
    let size = 0;
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      crc = crc32c(chunk, crc);
      sha.update(chunk);
      size += bytesRead;
    }
    return { size, crc32c: toSigned32(crc), sha256: sha.digest("hex") };
  } finally {
    await handle.close();
  }
}
