/** Byte-level helpers shared by the format parsers. */

/** A four-character code as text, with unprintable bytes escaped so hostile input cannot garble a message. */
export function fourCC(bytes: Buffer, at: number): string {
  let text = "";
  for (let i = at; i < at + 4 && i < bytes.length; i++) {
    const byte = bytes[i] ?? 0;
    text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return text;
}

/** The first bytes of a buffer in hex, for "found ... instead" messages. */
export function hexPreview(bytes: Buffer, count = 8): string {
  return [...bytes.subarray(0, count)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * A big-endian unsigned integer of 0, 1, 2, 4 or 8 bytes as a number. Values
 * beyond 2^53 come back inexact but still beyond any file size, so they fail the
 * reader's bounds checks rather than wrapping around.
 */
export function uintBE(bytes: Buffer, at: number, size: number): number {
  switch (size) {
    case 0:
      return 0;
    case 1:
      return bytes.readUInt8(at);
    case 2:
      return bytes.readUInt16BE(at);
    case 4:
      return bytes.readUInt32BE(at);
    case 8:
      return bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4);
    default:
      throw new RangeError(`unsupported integer size ${size}`);
  }
}

export function uintLE(bytes: Buffer, at: number, size: number): number {
  switch (size) {
    case 1:
      return bytes.readUInt8(at);
    case 2:
      return bytes.readUInt16LE(at);
    case 4:
      return bytes.readUInt32LE(at);
    case 8:
      return bytes.readUInt32LE(at + 4) * 2 ** 32 + bytes.readUInt32LE(at);
    default:
      throw new RangeError(`unsupported integer size ${size}`);
  }
}

export function startsWith(bytes: Buffer, signature: readonly number[], at = 0): boolean {
  if (at + signature.length > bytes.length) return false;
  return signature.every((byte, i) => bytes[at + i] === byte);
}
