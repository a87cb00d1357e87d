import { Type, type Static } from "typebox";
import { DATASET_TYPES } from "./constants.js";
import { EpochMs, Id, ResourceMetadata } from "./common.js";
import { Condition } from "./condition.js";

export const DatasetStatistic = Type.Object({
  assetTotal: Type.Integer({ minimum: 0 }),
  annotationTotal: Type.Integer({ minimum: 0 }),
  tagsCount: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  assetAnnotated: Type.Integer({ minimum: 0 }),
});

export const Dataset = Type.Object({
  kind: Type.Literal("Dataset"),
  /** The dataset's own id (not the composite). */
  datasetId: Id,
  name: Type.String(),
  description: Type.Optional(Type.String()),
  owner: Type.String(),
  workspaceId: Id,
  type: Type.String(),
  content: Type.String(),
  createDate: EpochMs,
  statistic: DatasetStatistic,
  users: Type.Record(Type.String(), Type.String()),
  tags: Type.Record(Type.String(), Type.Integer()),
  cohorts: Type.Array(Type.String()),
  /** A number on the wire (the Python client decodes an int). */
  status: Type.Integer(),
  lastAccessed: EpochMs,
  isLocked: Type.Boolean(),
  access: Type.Object({ isPublic: Type.Boolean(), isReadOnly: Type.Boolean() }),
  preference: Type.Record(Type.String(), Type.Union([Type.Boolean(), Type.String()])),
  assetStatuses: Type.Record(Type.String(), Type.Object({ description: Type.String(), color: Type.String() })),
  selfLink: Type.String(),
  etag: Type.String(),
});
export type Dataset = Static<typeof Dataset>;

export const CreateDatasetRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    type: Type.Optional(Type.Enum(DATASET_TYPES)),
    content: Type.Optional(Type.Literal("Image")),
    datasetId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type CreateDatasetRequest = Static<typeof CreateDatasetRequest>;

export const DeletedDataset = Type.Object({
  kind: Type.Literal("DeletedDataset"),
  user: Type.String(),
  datasetId: Id,
  workspaceId: Id,
  selfLink: Type.String(),
  etag: Type.String(),
  metadata: ResourceMetadata,
  status: Type.Object({ conditions: Type.Array(Condition) }),
  /** [ext] */
  deleted: Type.Boolean(),
  /** [ext] how many assets went with it. */
  deletedAssets: Type.Integer({ minimum: 0 }),
});
export type DeletedDataset = Static<typeof DeletedDataset>;
