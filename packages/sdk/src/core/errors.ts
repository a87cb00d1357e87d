import type { BulkAssetDeletionSession } from "@vi/protocol";
import type { AssetUploadResult } from "../lib/upload-result.js";

export interface ViErrorOptions {
  /** The server's error code (`ResourceNotFound`, ...) or a local one (`NetworkError`, ...). */
  code: string;
  /** The HTTP status, when the error came from a response. */
  status?: number | undefined;
  suggestion?: string | undefined;
  /** The response's `x-request-id` (or the body's `traceId`): quote it when reporting a problem. */
  requestId?: string | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

/** Every error the SDK raises on purpose is a ViError. */
export class ViError extends Error {
  readonly code: string;
  readonly status: number | undefined;
  readonly suggestion: string | undefined;
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options: ViErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status;
    this.suggestion = options.suggestion;
    this.requestId = options.requestId;
    this.details = options.details;
  }
}

export class ViAuthenticationError extends ViError {}
export class ViPermissionError extends ViError {}
export class ViNotFoundError extends ViError {}
export class ViValidationError extends ViError {}
export class ViConflictError extends ViError {}
export class ViServerError extends ViError {}
export class ViNetworkError extends ViError {}
export class ViTimeoutError extends ViError {}
export class ViConfigurationError extends ViError {}

export class ViRateLimitError extends ViError {
  /** How long the server asked to wait (from `Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: ViErrorOptions & { retryAfterMs?: number | undefined }) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A 413 from the server, or a local file over the organization's `limits.maxFileSize`. */
export class ViFileTooLargeError extends ViError {
  /** The local file, when the SDK refused it before sending. */
  readonly path: string | undefined;
  readonly size: number | undefined;
  readonly maxFileSize: number | undefined;
  constructor(message: string, options: ViErrorOptions & { path?: string; size?: number; maxFileSize?: number }) {
    super(message, options);
    this.path = options.path;
    this.size = options.size;
    this.maxFileSize = options.maxFileSize;
  }
}

/** An upload with `failureMode: "FailAfterOne"` that had a failure; `result` tells what did get in. */
export class ViUploadError extends ViError {
  readonly result: AssetUploadResult;
  constructor(message: string, options: ViErrorOptions & { result: AssetUploadResult }) {
    super(message, options);
    this.result = options.result;
  }
}

/** A bulk delete whose session ended `FailedReach`; `session` says how many assets went before it failed. */
export class ViBulkDeleteError extends ViError {
  readonly session: BulkAssetDeletionSession;
  constructor(message: string, options: ViErrorOptions & { session: BulkAssetDeletionSession }) {
    super(message, options);
    this.session = options.session;
  }
}

type ErrorClass = new (message: string, options: ViErrorOptions) => ViError;

function classForStatus(status: number): ErrorClass {
  switch (status) {
    case 400:
    case 422:
      return ViValidationError;
    case 401:
      return ViAuthenticationError;
    case 403:
      return ViPermissionError;
    case 404:
      return ViNotFoundError;
    case 409:
      return ViConflictError;
    case 413:
      return ViFileTooLargeError;
    case 429:
      return ViRateLimitError;
    default:
      return status >= 500 ? ViServerError : ViError;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/** What to do about a status, when the answer's body says nothing (a 401 of the server, a proxy's 502). */
export function suggestionForStatus(status: number): string | undefined {
  if (status === 401)
    return (
      "the server did not accept the secret key: check DATATURE_VI_SECRET_KEY or the config file's secretKey " +
      "(and DATATURE_VI_ORGANIZATION_ID); a key of another server, or a revoked one, is refused"
    );
  if (status === 403) return "the secret key may not do this: check that it is a key of the organization named";
  if (status === 429) return "the server asks to slow down: wait a little and try again";
  if (status >= 500)
    return "the server failed: try again later, and quote the request id if you report it (the server's log has it)";
  return undefined;
}

/**
 * Builds the error for a non-2xx response from its body, which is the wire's
 * `{error, message, suggestion?, details?, traceId}` when the Vi server answered, and may be
 * anything (an HTML page, nothing) when a proxy did.
 */
export function errorFromResponse(
  status: number,
  rawBody: string,
  requestIdHeader: string | undefined,
  retryAfterMs?: number,
): ViError {
  let body: unknown;
  try {
    body = rawBody === "" ? undefined : JSON.parse(rawBody);
  } catch {
    body = undefined;
  }
  const fields = isRecord(body) ? body : {};
  const code = str(fields.error) ?? `HTTP${status}`;
  const snippet = rawBody.trim().slice(0, 200);
  const message =
    str(fields.message) ?? (snippet === "" ? `HTTP ${status} with no body` : `HTTP ${status}: ${snippet}`);
  const options = {
    code,
    status,
    suggestion: str(fields.suggestion) ?? suggestionForStatus(status),
    requestId: requestIdHeader ?? str(fields.traceId),
    details: isRecord(fields.details) ? fields.details : undefined,
    retryAfterMs,
  };
  const Class = classForStatus(status);
  return new Class(message, options);
}
