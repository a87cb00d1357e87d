import { Type, type Static } from "typebox";
import { FILE_ERROR_CODES } from "./constants.js";

export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.String(),
  suggestion: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  traceId: Type.String(),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const FileErrorCodeSchema = Type.Enum(FILE_ERROR_CODES);
