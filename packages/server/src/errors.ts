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

/** How storage failed, as far as a client needs to know. */
export type StorageFaultKind = "full" | "read-only" | "io";

/** A storage failure found in an error (or its causes): what kind, and the error that said so. */
export interface StorageFault {
  kind: StorageFaultKind;
  /** The errno or SQLite code that named it: ENOSPC, SQLITE_FULL, EROFS, SQLITE_IOERR_WRITE... */
  code: string;
  /** The error carrying that code: the real cause, for the log. */
  error: Error;
}

const FULL_CODES = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL"]);
/** Errno codes of a file system that refuses writes: read-only, or immutable files (chattr +i gives EPERM). */
const READ_ONLY_ERRNOS = new Set(["EROFS", "EACCES", "EPERM"]);

/**
 * Whether an error (or one of its causes) is a storage fault: a full disk (ENOSPC, EDQUOT,
 * SQLITE_FULL), storage that refuses writes (EROFS, EACCES or EPERM from a file system call,
 * SQLITE_READONLY*) or an I/O failure (EIO, SQLITE_IOERR*, SQLITE_CANTOPEN). Undefined for
 * anything else. Errno codes count only on errors of a system call (`syscall` set), so that an
 * EPERM of some other origin is not taken for read-only storage.
 */
export function storageFault(err: unknown): StorageFault | undefined {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== "string") continue;
    if (FULL_CODES.has(code)) return { kind: "full", code, error: e };
    if (code.startsWith("SQLITE_READONLY")) return { kind: "read-only", code, error: e };
    if (code.startsWith("SQLITE_IOERR") || code === "SQLITE_CANTOPEN") return { kind: "io", code, error: e };
    const syscall = typeof (e as NodeJS.ErrnoException).syscall === "string";
    if (syscall && READ_ONLY_ERRNOS.has(code)) return { kind: "read-only", code, error: e };
    if (code === "EIO") return { kind: "io", code, error: e };
  }
  return undefined;
}

/** An I/O failure the stores detect themselves (a short write, bytes that changed): answered as EIO. */
export class StorageIOError extends Error {
  readonly code = "EIO";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageIOError";
  }
}
