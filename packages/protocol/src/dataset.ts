import { Type, type Static } from "typebox";
import { EpochMs, Id } from "./common.js";

export const DATASET_TYPES = ["phrase-grounding", "vqa", "object-detection", "classification", "segmentation", "generic"] as const;

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
  status: Type.Record(Type.String(), Type.Unknown()),
  lastAccessed: EpochMs,
  isLocked: Type.Boolean(),
  access: Type.Object({ isPublic: Type.Boolean(), isReadOnly: Type.Boolean() }),
  preference: Type.Record(Type.String(), Type.Unknown()),
  assetStatuses: Type.Record(Type.String(), Type.Unknown()),
  selfLink: Type.String(),
  etag: Type.String(),
});
export type Dataset = Static<typeof Dataset>;

export const CreateDatasetRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    content: Type.Optional(Type.Literal("Image")),
    datasetId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type CreateDatasetRequest = Static<typeof CreateDatasetRequest>;

export const DeletedDataset = Type.Object({
  kind: Type.Literal("DeletedDataset"),
  datasetId: Id,
  workspaceId: Id,
  deleted: Type.Boolean(),
  deletedAssets: Type.Integer({ minimum: 0 }),
});
export type DeletedDataset = Static<typeof DeletedDataset>;
