import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ErrorBody, ErrorCode, FileErrorCode } from "@vi/protocol";
import { ApiError, FileRejection, storageFault, type StorageFault, type StorageFaultKind } from "../errors.js";

/** Per-file rejections answer the status that fits their code; the session records the code itself. */
const FILE_STATUS: Partial<Record<FileErrorCode, { status: number; code: ErrorCode }>> = {
  EBADSIZE: { status: 413, code: "FileTooLarge" },
  EBADMIME: { status: 400, code: "InvalidFileFormat" },
  ECORRUPT: { status: 400, code: "InvalidFileFormat" },
  ETIMEOUT: { status: 403, code: "PermissionDenied" },
};

export function sendError(reply: FastifyReply, status: number, body: Omit<ErrorBody, "traceId">): FastifyReply {
  const traceId = String(reply.request.id);
  // The rate limiter sets its own Retry-After (the window's remaining seconds); keep it.
  if ((status === 429 || status === 503) && !reply.hasHeader("retry-after")) void reply.header("retry-after", "1");
  return reply
    .code(status)
    .type("application/json")
    .send({ ...body, traceId } satisfies ErrorBody);
}

/**
 * The one place errors become HTTP: ApiError and FileRejection as they are, schema failures as
 * ValidationFailed naming the field, anything unexpected as ServerError without internals.
 */
export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof ApiError) {
    return sendError(reply, err.status, {
      error: err.code,
      message: err.message,
      ...(err.suggestion ? { suggestion: err.suggestion } : {}),
      ...(err.details ? { details: err.details } : {}),
    });
  }
  if (err instanceof FileRejection) {
    const fit = FILE_STATUS[err.code] ?? { status: 400, code: "ValidationFailed" as const };
    return sendError(reply, fit.status, { error: fit.code, message: err.message, details: { fileError: err.code } });
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return sendError(reply, 400, {
      error: "ValidationFailed",
      message:
        `Invalid request: ${fe.validationContext ?? "input"} ${fe.message.replace(/^(body|querystring|params|headers)\/?/, "")}`.trim(),
      details: { issues: fe.validation.map((v) => ({ path: v.instancePath, message: v.message })) },
    });
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorCode =
      fe.statusCode === 413 ? "FileTooLarge" : fe.statusCode === 404 ? "ResourceNotFound" : "ValidationFailed";
    return sendError(reply, fe.statusCode, { error: code, message: fe.message });
  }
  const fault = storageFault(err);
  if (fault) return sendStorageFault(request, reply, fault, err);
  request.log.error({ err }, "unhandled error");
  return sendError(reply, 500, {
    error: "ServerError",
    message: "The server failed to handle this request",
    suggestion: `Report the trace id ${request.id}.`,
  });
}

/** Seconds a client is asked to wait after a storage fault before it tries again. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

const STORAGE_ANSWERS: Record<StorageFaultKind, { status: number; code: ErrorCode; message: string; fix: string }> = {
  full: {
    status: 507,
    code: "InsufficientStorage",
    message: "The server's disk is full, so this request could not be stored",
    fix: "free disk space on the server",
  },
  "read-only": {
    status: 503,
    code: "ServiceUnavailable",
    message: "The server's storage is read-only, so this request could not be stored",
    fix: "make the server's data directory writable",
  },
  io: {
    status: 503,
    code: "ServiceUnavailable",
    message: "The server's storage failed with an I/O error, so this request could not be completed",
    fix: "check the server's disk",
  },
};

/**
 * A storage fault answers 507 (disk full) or 503 (read-only storage, I/O error) with
 * Retry-After and a message saying what is wrong; reads that need no write keep working. The
 * real cause (errno or SQLite code, with its stack) goes to the log at error level.
 */
function sendStorageFault(request: FastifyRequest, reply: FastifyReply, fault: StorageFault, err: Error): FastifyReply {
  const answer = STORAGE_ANSWERS[fault.kind];
  request.log.error(
    { err, storage: { kind: fault.kind, code: fault.code, cause: fault.error.message } },
    `storage fault (${fault.code}): ${answer.message}`,
  );
  const traceId = String(request.id);
  return reply
    .code(answer.status)
    .header("retry-after", String(STORAGE_RETRY_AFTER_SECONDS))
    .type("application/json")
    .send({
      error: answer.code,
      message: answer.message,
      suggestion: `Retry later; reading still works. The server's operator must ${answer.fix} (trace id ${traceId}).`,
      details: { storage: fault.kind },
      traceId,
    } satisfies ErrorBody);
}
