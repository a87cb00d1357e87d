import { Type, type Static } from "typebox";
import { Id, ResourceMetadata } from "./common.js";
import { Condition } from "./condition.js";

/** What a bulk delete selects: the listing's `filter` and `metadataQuery`, as the Python client sends them. */
export const BulkDeleteSpec = Type.Object({
  filter: Type.Optional(
    Type.Union([Type.String({ maxLength: 65_536 }), Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  ),
  metadataQuery: Type.Optional(Type.Union([Type.String({ maxLength: 65_536 }), Type.Null()])),
  ruleQuery: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  strictQuery: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  /** [ext] count what would go, delete nothing. */
  dryRun: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
});
export type BulkDeleteSpec = Static<typeof BulkDeleteSpec>;

export const CreateBulkDeleteRequest = Type.Object({ spec: BulkDeleteSpec });
export type CreateBulkDeleteRequest = Static<typeof CreateBulkDeleteRequest>;

export const BulkAssetDeletionSession = Type.Object({
  kind: Type.Literal("BulkAssetDeletionSession"),
  workspaceId: Id,
  /** The composite `{orgId}_{datasetId}`. */
  datasetId: Type.String(),
  deleteManyAssetsSessionId: Id,
  selfLink: Type.String(),
  etag: Type.String(),
  metadata: ResourceMetadata,
  spec: BulkDeleteSpec,
  status: Type.Object({
    /** `Started` and `Finished`; the Python client waits until every one is `Reached`. */
    conditions: Type.Array(Condition),
    /** [ext] how many assets the selection held when the session opened. */
    selected: Type.Integer({ minimum: 0 }),
    /** [ext] how many of them are gone so far (0 for a dry run). */
    deleted: Type.Integer({ minimum: 0 }),
  }),
});
export type BulkAssetDeletionSession = Static<typeof BulkAssetDeletionSession>;

export const BulkDeleteStatusQuery = Type.Object({
  waitFor: Type.Optional(Type.Literal("Finished")),
  timeout: Type.Optional(Type.Number({ minimum: 0, maximum: 300 })),
});
