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

export function startsWith(bytes: Buffer, signature: readonly number[], at = 0): boolean {
  if (at + signature.length > bytes.length) return false;
  return signature.every((byte, i) => bytes[at + i] === byte);
}
