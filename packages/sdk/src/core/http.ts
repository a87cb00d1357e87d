import type { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import { errorFromResponse, ViError, ViNetworkError, ViServerError, ViTimeoutError } from "./errors.js";
import { isNetworkError, parseRetryAfter, retryDelay, shouldRetry, sleep, type RetryPolicy } from "./retry.js";

/** Redirects a signed GET or HEAD follows (to the bucket that holds the bytes). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
type ResponseData = Dispatcher.ResponseData;

export interface HttpClientOptions {
  /** The origin of the API (scheme, host, port): the API lives at the host root. */
  origin: string;
  /** Sent on every API call (authorization, organization, user-agent); never on signed URLs. */
  headers: Record<string, string>;
  /** Milliseconds per attempt. */
  timeout: number;
  retry: RetryPolicy;
}

export interface ApiRequest {
  method: HttpMethod;
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Overrides the client's timeout, e.g. for a long-poll that legitimately waits. */
  timeout?: number;
}

export interface TransferRequest {
  /** POST: the [ext] multipart calls of a bucket-backed server (signed URLs too). */
  method: "GET" | "PUT" | "POST";
  /** A signed URL: absolute, carrying its own authorization. */
  url: string;
  headers?: Record<string, string>;
  /** Opens the body afresh for each attempt, because a stream can be read only once. */
  body?: () => Readable;
  signal?: AbortSignal | undefined;
}

/** The outcome of one attempt, so that the retry loop can decide without parsing errors. */
type Attempt<T> =
  { ok: true; value: T } | { ok: false; error: ViError; status: number; retryAfterMs: number | undefined };

const header = (headers: ResponseData["headers"], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The one HTTP layer of the SDK: a keep-alive undici Agent shared by the JSON API calls and the
 * bulk transfers (global fetch is several times slower for many small PUTs), with per-attempt
 * timeouts and retries.
 */
export class HttpClient {
  readonly agent: Agent;
  readonly #options: HttpClientOptions;
  #closing: Promise<void> | undefined;

  constructor(options: HttpClientOptions) {
    this.#options = options;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connect: { timeout: Math.min(options.timeout, 30_000) },
    });
  }

  get timeout(): number {
    return this.#options.timeout;
  }

  /** Resolves a URL the server handed out (a signed URL may be given relative to the API). */
  resolveUrl(url: string): string {
    return new URL(url, this.#options.origin).href;
  }

  /** Calls the API and parses its JSON answer. */
  async json<T>(req: ApiRequest): Promise<T> {
    const text = await this.#api(req);
    try {
      // The server is trusted to send the wire types; validating every page would cost more than it saves.
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new ViServerError(
        `${req.method} ${req.path} answered 2xx with a body that is not JSON: ${text.slice(0, 100)}`,
        {
          code: "InvalidResponse",
          cause,
        },
      );
    }
  }

  /** Calls the API where a 2xx answer has no body (DELETE of an asset). */
  async empty(req: ApiRequest): Promise<void> {
    await this.#api(req);
  }

  async #api(req: ApiRequest): Promise<string> {
    const url = new URL(req.path, this.#options.origin);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const headers: Record<string, string> = { ...this.#options.headers, accept: "application/json" };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers["content-type"] = "application/json";
    }
    const timeout = req.timeout ?? this.#options.timeout;
    return this.#withRetries(req.method, req.signal, timeout, `${req.method} ${url.pathname}`, async (signal) => {
      const res = await request(url, {
        method: req.method,
        headers,
        body,
        signal,
        dispatcher: this.agent,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, value: text };
      return failure(res, text);
    });
  }

  /**
   * A bulk transfer to or from a signed URL, without the API's credentials. `consume` reads a 2xx
   * response inside the attempt, so that a connection lost mid-body is retried like any other
   * network error. Timeouts here bound the wait for headers and the silence between chunks, not
   * the whole transfer, which may legitimately be long.
   */
  async transfer<T>(req: TransferRequest, consume: (res: ResponseData) => Promise<T>): Promise<T> {
    const timeout = this.#options.timeout;
    const label = `${req.method} ${new URL(req.url).pathname}`;
    return this.#withRetries(req.method, req.signal, undefined, label, async (signal) => {
      const body = req.body?.();
      let res: ResponseData;
      let url = req.url;
      let headers = req.headers;
      try {
        for (let hops = 0; ; hops++) {
          res = await request(url, {
            method: req.method,
            headers,
            body,
            signal,
            dispatcher: this.agent,
            headersTimeout: timeout,
            bodyTimeout: timeout,
          });
          const location = res.headers.location;
          // A server keeping its bytes in a bucket answers a download with a redirect to a
          // presigned GET there. Signed URLs carry no credentials, so following one leaks none.
          if (!REDIRECTS.has(res.statusCode) || typeof location !== "string" || body !== undefined || hops >= 5) break;
          await res.body.dump();
          url = new URL(location, url).toString();
          // If-Range names the API's ETag (the SHA-256); the bucket has ETags of its own. Bytes
          // under a content address never change, and the digest is checked at the end anyway.
          headers = Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => name !== "if-range"));
        }
      } finally {
        // undici does not always close a body it did not finish reading (an early error answer).
        if (body !== undefined && !body.destroyed) body.destroy();
      }
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, value: await consume(res) };
      // Error bodies are short JSON; read at most a little so a misbehaving server cannot flood us.
      return failure(res, await readCapped(res.body, 64 * 1024));
    });
  }

  async #withRetries<T>(
    method: HttpMethod,
    userSignal: AbortSignal | undefined,
    timeout: number | undefined,
    label: string,
    once: (signal: AbortSignal) => Promise<Attempt<T>>,
  ): Promise<T> {
    const policy = this.#options.retry;
    for (let retry = 0; ; retry++) {
      userSignal?.throwIfAborted();
      const deadline = new AbortController();
      const timer =
        timeout === undefined
          ? undefined
          : setTimeout(
              () => deadline.abort(new ViTimeoutError(`${label} timed out after ${timeout} ms`, { code: "Timeout" })),
              timeout,
            );
      const signal = userSignal ? AbortSignal.any([userSignal, deadline.signal]) : deadline.signal;
      let attempt: Attempt<T>;
      try {
        attempt = await once(signal);
      } catch (error) {
        if (userSignal?.aborted) throw userSignal.reason;
        const timedOut = deadline.signal.aborted;
        const retryable = timedOut ? shouldRetry(method, { error: timeoutAsNetwork }) : shouldRetry(method, { error });
        if (!retryable || retry >= policy.maxRetries) {
          if (timedOut) throw deadline.signal.reason;
          if (error instanceof ViError) throw error;
          if (isNetworkError(error)) {
            throw new ViNetworkError(`${label} failed: ${(error as Error).message}`, {
              code: "NetworkError",
              cause: error,
            });
          }
          throw error;
        }
        await sleep(retryDelay(retry, policy, undefined), userSignal);
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (attempt.ok) return attempt.value;
      const { status, retryAfterMs, error } = attempt;
      if (retry >= policy.maxRetries || !shouldRetry(method, { status, retryAfterMs })) throw error;
      await sleep(retryDelay(retry, policy, retryAfterMs), userSignal);
    }
  }

  /** Closes the kept-alive connections once; later calls do nothing. */
  async close(): Promise<void> {
    this.#closing ??= this.agent.close();
    await this.#closing;
  }
}

/** A timeout is a network failure for retry purposes: the request may or may not have landed. */
const timeoutAsNetwork = Object.assign(new Error("timeout"), { code: "ETIMEDOUT" });

function failure<T>(res: ResponseData, text: string): Attempt<T> {
  const retryAfterMs = parseRetryAfter(res.headers["retry-after"]);
  return {
    ok: false,
    status: res.statusCode,
    retryAfterMs,
    // x-cloud-trace-context is where the Python client looks for a trace id (its part before "/").
    error: errorFromResponse(
      res.statusCode,
      text,
      header(res.headers, "x-request-id") ?? header(res.headers, "x-cloud-trace-context")?.split("/")[0],
      retryAfterMs,
    ),
  };
}

async function readCapped(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}
