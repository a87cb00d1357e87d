import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ErrorBody, ErrorCode, FileErrorCode } from "@vi/protocol";
import { ApiError, FileRejection } from "../errors.js";

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
  request.log.error({ err }, "unhandled error");
  return sendError(reply, 500, {
    error: "ServerError",
    message: "The server failed to handle this request",
    suggestion: `Report the trace id ${request.id}.`,
  });
}
