import { createHmac, timingSafeEqual } from "node:crypto";

export type SignatureCheck = "valid" | "expired" | "invalid";

/**
 * HMAC-SHA256 signed URLs: the signature covers the method family, the whole path and the
 * expiry, so neither can be altered; an expired URL is told apart from a forged one only
 * after the signature checks out.
 */
export class UrlSigner {
  constructor(
    private readonly secret: Buffer,
    private readonly baseUrl: string,
  ) {}

  sign(scope: "upload" | "download", path: string, expiresAt: number): string {
    const signature = this.mac(scope, path, expiresAt);
    return `${this.baseUrl}${path}?expires=${expiresAt}&signature=${signature}`;
  }

  verify(
    scope: "upload" | "download",
    path: string,
    expires: unknown,
    signature: unknown,
    now = Date.now(),
  ): SignatureCheck {
    if (typeof expires !== "string" || !/^\d{1,15}$/.test(expires) || typeof signature !== "string") return "invalid";
    const expected = Buffer.from(this.mac(scope, path, Number(expires)));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "invalid";
    return Number(expires) < now ? "expired" : "valid";
  }

  private mac(scope: string, path: string, expiresAt: number): string {
    return createHmac("sha256", this.secret).update(`${scope}\n${path}\n${expiresAt}`).digest("base64url");
  }
}
