import type { ErrorBody } from "@vi/protocol";

/** An API error answer: the wire's error code and message, and where a query went wrong. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly suggestion: string | undefined;
  /** For filter and query errors: which parameter, the character offset in it, what was expected. */
  readonly parameter: string | undefined;
  readonly position: number | undefined;
  readonly traceId: string | undefined;

  constructor(status: number, body: Partial<ErrorBody> | undefined, fallback: string) {
    super(body?.message ?? fallback);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.error ?? `HTTP${status}`;
    this.suggestion = body?.suggestion;
    const details = (body?.details ?? {}) as { parameter?: unknown; position?: unknown };
    this.parameter = typeof details.parameter === "string" ? details.parameter : undefined;
    this.position = typeof details.position === "number" ? details.position : undefined;
    this.traceId = body?.traceId;
  }
}

/** A message for a person: the server's words, and its suggestion when it gave one. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.suggestion ? `${err.message} (${err.suggestion})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
