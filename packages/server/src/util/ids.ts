import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Random ids over [0-9a-z]: safe in paths and in the `{org}_{dataset}` composite (no `_`),
 * unguessable (the 128 bits of 25 base-36 characters), and sortable by nothing, on purpose.
 */
export function newId(length = 25): string {
  const bytes = randomBytes(length * 2);
  let out = "";
  for (let i = 0; out.length < length && i < bytes.length; i++) {
    const b = bytes[i]!;
    // Rejection sampling keeps the distribution uniform (252 = 7 * 36).
    if (b < 252) out += ALPHABET[b % 36];
  }
  return out.length === length ? out : newId(length);
}
