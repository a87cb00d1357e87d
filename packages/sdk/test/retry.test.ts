import { afterEach, describe, expect, it } from "vitest";
import {
  ViNetworkError,
  ViServerError,
  ViValidationError,
  ViRateLimitError,
  ViTimeoutError,
} from "../src/core/errors.js";
import { HttpClient } from "../src/core/http.js";
import {
  backoffDelay,
  parseRetryAfter,
  shouldRetry,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
} from "../src/core/retry.js";
import { json, startServer, type TestServer } from "./helpers/server.js";

const fast: RetryPolicy = { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 60_000 };
let server: TestServer | undefined;
let http: HttpClient | undefined;

function client(url: string, retry: Partial<RetryPolicy> = {}, timeout = 5_000): HttpClient {
  http = new HttpClient({ origin: url, headers: { authorization: "Bearer k" }, timeout, retry: { ...fast, ...retry } });
  return http;
}

afterEach(async () => {
  await http?.close();
  await server?.close();
  http = undefined;
  server = undefined;
});

describe("retry policy", () => {
  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0.5")).toBe(500);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:03 GMT", now)).toBe(3000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it("backs off exponentially with full jitter under a ceiling", () => {
    expect(backoffDelay(0, DEFAULT_RETRY_POLICY, () => 0.999)).toBeLessThan(500);
    expect(backoffDelay(3, DEFAULT_RETRY_POLICY, () => 0.999)).toBe(3996);
    expect(backoffDelay(10, DEFAULT_RETRY_POLICY, () => 0.999)).toBe(7992);
    expect(backoffDelay(10, DEFAULT_RETRY_POLICY, () => 0)).toBe(0);
  });

  it("retries POST only when the server said it did nothing", () => {
    expect(shouldRetry("POST", { status: 503, retryAfterMs: 1000 })).toBe(true);
    expect(shouldRetry("POST", { status: 429, retryAfterMs: 0 })).toBe(true);
    expect(shouldRetry("POST", { status: 503, retryAfterMs: undefined })).toBe(false);
    expect(shouldRetry("POST", { status: 500, retryAfterMs: undefined })).toBe(false);
    expect(shouldRetry("POST", { error: Object.assign(new Error("x"), { code: "ECONNRESET" }) })).toBe(false);
    expect(shouldRetry("POST", { error: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) })).toBe(true);
    expect(shouldRetry("PUT", { status: 502, retryAfterMs: undefined })).toBe(true);
    expect(shouldRetry("GET", { status: 404, retryAfterMs: undefined })).toBe(false);
  });
});

describe("HttpClient retries against a real server", () => {
  it("waits out Retry-After on a 503, then succeeds", async () => {
    let calls = 0;
    server = await startServer((_req, res) => {
      calls++;
      if (calls === 1)
        json(res, 503, { error: "ServiceUnavailable", message: "busy", traceId: "t" }, { "retry-after": "1" });
      else json(res, 200, { ok: true });
    });
    const started = Date.now();
    const body = await client(server.url).json<{ ok: boolean }>({ method: "GET", path: "/x" });
    expect(body).toEqual({ ok: true });
    expect(calls).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("retries a POST on 429 with Retry-After", async () => {
    let calls = 0;
    server = await startServer((_req, res) => {
      calls++;
      if (calls === 1)
        json(res, 429, { error: "RateLimitExceeded", message: "slow down", traceId: "t" }, { "retry-after": "0" });
      else json(res, 201, { created: true });
    });
    expect(await client(server.url).json({ method: "POST", path: "/x", body: {} })).toEqual({ created: true });
    expect(calls).toBe(2);
  });

  it("does not retry a 400", async () => {
    server = await startServer((_req, res) =>
      json(res, 400, { error: "InvalidParameter", message: "bad s", traceId: "t" }),
    );
    await expect(client(server.url).json({ method: "GET", path: "/x" })).rejects.toBeInstanceOf(ViValidationError);
    expect(server.requests).toHaveLength(1);
  });

  it("does not retry a 507 (the server's disk is full): it fails at once with the server's message", async () => {
    server = await startServer((_req, res) =>
      json(res, 507, { error: "InsufficientStorage", message: "The server's disk is full", traceId: "t" }),
    );
    await expect(client(server.url).json({ method: "GET", path: "/x" })).rejects.toThrow(/disk is full/);
    expect(server.requests).toHaveLength(1);
  });

  it("retries a connection reset, then succeeds", async () => {
    let calls = 0;
    server = await startServer((_req, res, raw) => {
      calls++;
      if (calls === 1) raw.socket.destroy();
      else json(res, 200, { ok: 1 });
    });
    expect(await client(server.url).json({ method: "GET", path: "/x" })).toEqual({ ok: 1 });
    expect(calls).toBe(2);
  });

  it("gives up after maxRetries and raises the last error", async () => {
    server = await startServer((_req, res) => json(res, 500, { error: "ServerError", message: "boom", traceId: "t" }));
    const err = await client(server.url, { maxRetries: 2 })
      .json({ method: "GET", path: "/x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViServerError);
    expect(server.requests).toHaveLength(3);
  });

  it("raises ViNetworkError when every attempt is reset", async () => {
    server = await startServer((_req, _res, raw) => {
      raw.socket.destroy();
    });
    const err = await client(server.url, { maxRetries: 1 })
      .json({ method: "GET", path: "/x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViNetworkError);
    expect(server.requests).toHaveLength(2);
  });

  it("cuts a long Retry-After to the cap, and reports it when retries run out", async () => {
    server = await startServer((_req, res) =>
      json(res, 429, { error: "RateLimitExceeded", message: "later", traceId: "t" }, { "retry-after": "3600" }),
    );
    const started = Date.now();
    const err = await client(server.url, { maxRetries: 2, maxRetryAfterMs: 100 })
      .json({ method: "GET", path: "/x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViRateLimitError);
    expect((err as ViRateLimitError).retryAfterMs).toBe(3_600_000);
    expect(server.requests).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("an AbortSignal cancels a pending retry wait", async () => {
    server = await startServer((_req, res) =>
      json(res, 503, { error: "ServiceUnavailable", message: "busy", traceId: "t" }, { "retry-after": "30" }),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = Date.now();
    const err = await client(server.url)
      .json({ method: "GET", path: "/x", signal: controller.signal })
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.requests).toHaveLength(1);
  });

  it("times out an attempt that gets no answer, and retries it", async () => {
    let calls = 0;
    server = await startServer((_req, res) => {
      calls++;
      if (calls > 1) json(res, 200, { ok: true });
      // The first request is left hanging.
    });
    expect(await client(server.url, {}, 300).json({ method: "GET", path: "/x" })).toEqual({ ok: true });
    expect(calls).toBe(2);
  });

  it("raises ViTimeoutError when every attempt times out", async () => {
    server = await startServer(() => undefined);
    const err = await client(server.url, { maxRetries: 1 }, 200)
      .json({ method: "GET", path: "/x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViTimeoutError);
  });
});
