import { ERROR_STATUS, type ErrorCode, type FileErrorCode } from "@vi/protocol";

/**
 * An error a service raises for the client to see. Routes never build error bodies by hand:
 * the error handler turns this into the wire shape `{error, message, suggestion?, details?, traceId}`.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly suggestion?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError(
    "ResourceNotFound",
    `${what} '${id}' was not found`,
    `Check the ${what.toLowerCase()} id and the organization.`,
  );

export const invalid = (message: string, details?: Record<string, unknown>, suggestion?: string) =>
  new ApiError("InvalidParameter", message, suggestion, details);

/** A per-file ingestion failure: it fails that file, not the request that reported it. */
export class FileRejection extends Error {
  constructor(
    readonly code: FileErrorCode,
    readonly reason: string,
  ) {
    super(reason);
    this.name = "FileRejection";
  }
}
