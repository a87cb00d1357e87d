/**
 * When to try a request again, and how long to wait first: exponential backoff with full
 * jitter, unless the server said how long (`Retry-After`).
 */

export interface RetryPolicy {
  /** Retries after the first attempt (so `maxRetries + 1` attempts in all). */
  maxRetries: number;
  /** The first backoff ceiling; it doubles with each retry. */
  baseDelayMs: number;
  /** The backoff ceiling never grows past this. */
  maxDelayMs: number;
  /** A longer `Retry-After` is cut to this, as the Python client does (60 s). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** Full jitter: uniform in [0, min(maxDelay, base * 2^retry)) (AWS architecture blog, 2015). */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** `Retry-After` as milliseconds from now: either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Statuses that say "not now" rather than "no": worth another try. 507 (the server's disk is
 * full) is not: it does not clear in seconds, and retrying a large upload against it only
 * delays the answer by every Retry-After.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 507);
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);

/** A failure of the connection rather than an answer from the server. */
export function isNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if (/socket hang up|other side closed/i.test(e.message)) return true;
  }
  return false;
}

/** The connection was refused, so the request provably never reached the server. */
export function isConnectionRefused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === "ECONNREFUSED") return true;
  }
  return false;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

/**
 * The outcome of one attempt: a status (and its `Retry-After`) or an error without a response.
 * Idempotent methods are retried on 408/429/5xx and network errors. A POST may have taken
 * effect even when its answer was lost, so it is retried only when the server said plainly
 * that it did nothing (429 or 503 with `Retry-After`) or when it was never sent (connection
 * refused).
 */
export function shouldRetry(
  method: string,
  outcome: { status: number; retryAfterMs: number | undefined } | { error: unknown },
): boolean {
  const idempotent = IDEMPOTENT.has(method.toUpperCase());
  if ("status" in outcome) {
    if (idempotent) return isRetryableStatus(outcome.status);
    return (outcome.status === 429 || outcome.status === 503) && outcome.retryAfterMs !== undefined;
  }
  return idempotent ? isNetworkError(outcome.error) : isConnectionRefused(outcome.error);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How long to wait before retry number `retry` (0-based): the server's word (capped), else backoff. */
export function retryDelay(retry: number, policy: RetryPolicy, retryAfterMs: number | undefined): number {
  return retryAfterMs === undefined ? backoffDelay(retry, policy) : Math.min(retryAfterMs, policy.maxRetryAfterMs);
}
