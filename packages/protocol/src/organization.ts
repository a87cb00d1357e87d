import { Type, type Static } from "typebox";
import { EpochMs, Id } from "./common.js";

export const Organization = Type.Object({
  kind: Type.Literal("Workspace"),
  workspaceId: Id,
  name: Type.String(),
  owner: Type.String(),
  createDate: EpochMs,
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

export const CreateSecretKeyRequest = Type.Object(
  { name: Type.Optional(Type.String({ maxLength: 255 })) },
  { additionalProperties: false },
);
export type CreateSecretKeyRequest = Static<typeof CreateSecretKeyRequest>;
