import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SECRET_KEY_PATTERN, SECRET_KEY_PREFIX } from "@vi/protocol";

/** A new secret key: `dtvi_` and 98 URL-safe characters from 588 random bits. */
export function generateSecretKey(): string {
  return SECRET_KEY_PREFIX + randomBytes(74).toString("base64url").slice(0, 98);
}

/** Keys are stored as SHA-256 digests only: a leaked database holds no usable key. */
export const hashSecretKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

export const looksLikeSecretKey = (key: string): boolean => SECRET_KEY_PATTERN.test(key);

export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}
