import { Type, type Static } from "typebox";
import { Id, ResourceMetadata } from "./common.js";

/** A point `[x, y]`; a bounding box is `[[x0, y0], [x1, y1]]` (top-left, bottom-right). */
const Point = Type.Array(Type.Number(), { minItems: 2, maxItems: 2 });

export const BoundingBoxContents = Type.Object({
  kind: Type.Literal("PhraseGroundingBoundingBox"),
  bound: Type.Array(Point, { minItems: 2, maxItems: 2 }),
  /** The phrase span the box grounds; [0, 0] when none (the Python client requires the field). */
  target: Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 }),
});
export const CaptionContents = Type.Object({
  kind: Type.Literal("Caption"),
  contents: Type.String(),
});
export const AnnotationContents = Type.Union([BoundingBoxContents, CaptionContents]);
export type AnnotationContents = Static<typeof AnnotationContents>;

/**
 * An annotation as the Python client decodes it: `spec.tag` is the tag's integer id within the
 * dataset (the dataset's `tags` maps names to ids); [ext] `spec.tagName` carries the name.
 */
export const Annotation = Type.Object({
  kind: Type.Literal("Annotation"),
  annotationId: Id,
  assetId: Id,
  /** The composite `{orgId}_{datasetId}`. */
  datasetId: Type.String(),
  workspaceId: Id,
  selfLink: Type.String(),
  etag: Type.String(),
  metadata: ResourceMetadata,
  spec: Type.Object({
    boundType: Type.String(),
    tag: Type.Integer({ minimum: 1 }),
    tagName: Type.String(),
    aggregation: Type.Object({
      whole: Type.Object({ id: Type.String() }),
      thisPart: Type.Object({ role: Type.String() }),
    }),
    contents: AnnotationContents,
  }),
});
export type Annotation = Static<typeof Annotation>;

/**
 * [ext] Creating one annotation: a tag name and a bounding box or a caption. `kind` may be left
 * out of a bounding box (`{bound}`); a missing `contents` is a box over the whole image.
 */
export const CreateAnnotationRequest = Type.Object(
  {
    spec: Type.Object({
      tag: Type.String({ minLength: 1, maxLength: 255 }),
      contents: Type.Optional(
        Type.Union([
          Type.Object(
            {
              kind: Type.Optional(Type.Literal("PhraseGroundingBoundingBox")),
              bound: Type.Array(Point, { minItems: 2, maxItems: 2 }),
              target: Type.Optional(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 })),
            },
            { additionalProperties: false },
          ),
          Type.Object(
            { kind: Type.Literal("Caption"), contents: Type.String({ maxLength: 10_000 }) },
            { additionalProperties: false },
          ),
        ]),
      ),
    }),
  },
  { additionalProperties: false },
);
export type CreateAnnotationRequest = Static<typeof CreateAnnotationRequest>;

export const ListAnnotationsQuery = Type.Object({
  pageToken: Type.Optional(Type.String({ maxLength: 4096 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});
