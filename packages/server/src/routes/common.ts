import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { ErrorBody } from "@vi/protocol/schemas";

/** What the API's route files share: the typed app, path parameters, error replies, security. */

export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export const OrgParams = Type.Object({ org: Type.String() });
export const DatasetParams = Type.Object({ org: Type.String(), D: Type.String() });
export const AssetParams = Type.Object({ org: Type.String(), D: Type.String(), assetId: Type.String() });
export const SessionParams = Type.Object({ org: Type.String(), D: Type.String(), sessionId: Type.String() });
export const AnnotationParams = Type.Object({
  org: Type.String(),
  D: Type.String(),
  assetId: Type.String(),
  annotationId: Type.String(),
});
export const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };
export const security = [{ secretKey: [], organizationId: [] }];
