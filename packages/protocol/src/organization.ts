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
});
export type Organization = Static<typeof Organization>;
