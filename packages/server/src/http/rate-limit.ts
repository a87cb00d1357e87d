import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import rateLimit from "@fastify/rate-limit";
import { ApiError } from "../errors.js";

/**
 * Per-key request limits on the API: one caller cannot stall everyone. Requests are counted
 * per secret key (by a digest of the Authorization header, so no key is kept in memory in
 * clear), and per address when they carry none; over the limit they answer 429 with
 * Retry-After, which the SDK and the Python client honour. Signed upload and download URLs
 * are not counted: they carry no key and are bounded by their sessions.
 */
export async function registerRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute <= 0) return;
  await app.register(rateLimit, {
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: (request: FastifyRequest) => {
      const auth = request.headers.authorization;
      return auth ? `key:${createHash("sha256").update(auth).digest("base64url")}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        "RateLimitExceeded",
        `Too many requests: at most ${context.max} per minute for this key`,
        `Retry after ${Math.ceil(context.ttl / 1000)} s.`,
      ),
  });
}
