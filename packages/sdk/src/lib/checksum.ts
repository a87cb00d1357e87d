import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
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

/** Both digests of a file in one streaming pass, in bounded memory. */
export async function digestFile(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const sha = createHash("sha256");
  let crc = 0;
  let size = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20, signal });
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    crc = crc32c(buf, crc);
    sha.update(buf);
    size += buf.length;
  }
  return { size, crc32c: toSigned32(crc), sha256: sha.digest("hex") };
}
