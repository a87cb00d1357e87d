import { Type, type Static } from "typebox";

/** Error codes of the wire contract and the HTTP status each one answers with. */
export const ERROR_STATUS = {
  AuthenticationFailed: 401,
  InvalidApiKey: 401,
  PermissionDenied: 403,
  ValidationFailed: 400,
  InvalidParameter: 400,
  MissingRequiredField: 400,
  InvalidFileFormat: 400,
  FileTooLarge: 413,
  ResourceNotFound: 404,
  ResourceConflict: 409,
  RateLimitExceeded: 429,
  ServiceUnavailable: 503,
  ServerError: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  suggestion: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  traceId: Type.String(),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The closed set of per-file ingestion error codes. */
export const FILE_ERROR_CODES = [
  "EALREADY",
  "EBADMIME",
  "EBADSIZE",
  "ECORRUPT",
  "ENOQUOTA",
  "ETIMEOUT",
  "ENOASSET",
  "EOLDMETA",
  "ESEQMETA",
  "ERESNENT",
  "EPROJECT",
  "EUNKNOWN",
] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];
export const FileErrorCodeSchema = Type.Enum(FILE_ERROR_CODES);
