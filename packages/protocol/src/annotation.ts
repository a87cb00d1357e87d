import { Type, type Static } from "typebox";
import { EpochMs, Id } from "./common.js";

/** The minimum of annotations that assets need: a tag and its geometry. */
export const Annotation = Type.Object({
  kind: Type.Literal("Annotation"),
  annotationId: Id,
  assetId: Id,
  datasetId: Type.String(),
  workspaceId: Id,
  spec: Type.Object({ tag: Type.String(), contents: Type.Unknown() }),
  metadata: Type.Object({ timeCreated: EpochMs, lastUpdated: EpochMs }),
});
export type Annotation = Static<typeof Annotation>;

export const CreateAnnotationRequest = Type.Object(
  {
    spec: Type.Object({ tag: Type.String({ minLength: 1, maxLength: 255 }), contents: Type.Optional(Type.Unknown()) }),
  },
  { additionalProperties: false },
);
export type CreateAnnotationRequest = Static<typeof CreateAnnotationRequest>;
