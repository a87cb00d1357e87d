import { Type, type Static } from "typebox";
import { EpochMs, Id } from "./common.js";

/** Fields the Python client requires are all present, with neutral values where self-hosting has none. */
export const Organization = Type.Object({
  kind: Type.Literal("Workspace"),
  workspaceId: Id,
  name: Type.String(),
  owner: Type.String(),
  createDate: EpochMs,
  lastAccess: EpochMs,
  datasets: Type.Array(Type.String()),
  billing: Type.Object({
    payer: Type.String(),
    email: Type.String(),
    subscriberId: Type.String(),
    ledger: Type.Array(Type.Unknown()),
    tier: Type.String(),
  }),
  users: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Object({ createDate: EpochMs, isPublic: Type.Boolean() }),
  features: Type.Record(Type.String(), Type.Unknown()),
  lockStatus: Type.Object({ isLocked: Type.Boolean() }),
  selfLink: Type.String(),
  etag: Type.String(),
  /** [ext] what this server accepts, so clients can refuse a file before sending it. */
  limits: Type.Object({
    maxFileSize: Type.Integer({ minimum: 1, description: "bytes" }),
    maxPixels: Type.Integer({ minimum: 1 }),
    maxFilesPerSession: Type.Integer({ minimum: 1 }),
  }),
});
export type Organization = Static<typeof Organization>;

/** [ext] A secret key as created: the clear key is shown once, then only its hash is kept. */
export const CreatedSecretKey = Type.Object({
  kind: Type.Literal("SecretKey"),
  keyId: Type.String(),
  name: Type.String(),
  workspaceId: Type.String(),
  secretKey: Type.String(),
  createDate: EpochMs,
});
export type CreatedSecretKey = Static<typeof CreatedSecretKey>;

/** [ext] A secret key as listed: never the key itself, which only its creator saw once. */
export const SecretKeySummary = Type.Object({
  kind: Type.Literal("SecretKey"),
  keyId: Type.String(),
  name: Type.String(),
  workspaceId: Type.String(),
  createDate: EpochMs,
  /** True for the key this request was made with. */
  current: Type.Boolean(),
});
export type SecretKeySummary = Static<typeof SecretKeySummary>;

export const CreateSecretKeyRequest = Type.Object(
  { name: Type.Optional(Type.String({ maxLength: 255 })) },
  { additionalProperties: false },
);
export type CreateSecretKeyRequest = Static<typeof CreateSecretKeyRequest>;
