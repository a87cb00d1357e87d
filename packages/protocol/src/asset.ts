import { Type, type Static } from "typebox";
import { SORT_CRITERIA, MAX_PAGE_SIZE } from "./constants.js";
import { CustomMetadata, EpochMs, Flag, Id } from "./common.js";

/** A signed URL to bytes: it expires, and ends in the asset's filename. */
export const Contents = Type.Object({
  url: Type.String(),
  expiry: EpochMs,
  method: Type.Optional(Type.String()),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type Contents = Static<typeof Contents>;

export const AssetContents = Type.Object({
  asset: Type.Optional(Contents),
  thumbnail: Type.Optional(Contents),
});

export const Dimensions = Type.Object({
  width: Type.Integer(),
  height: Type.Integer(),
  depth: Type.Optional(Type.Integer()),
});

export const ThumbnailState = Type.Union([Type.Literal("ready"), Type.Literal("pending"), Type.Literal("none")]);
export type ThumbnailState = Static<typeof ThumbnailState>;

/** [ext] What processing's full decode found. */
export const MediaFacts = Type.Object({
  /** Channels of the decoded pixels, alpha included. */
  channels: Type.Integer(),
  /** Bits per sample as stored. */
  bitDepth: Type.Integer(),
  hasAlpha: Type.Boolean(),
  /** The stored colour model as the decoder names it (`srgb`, `b-w`, `cmyk`, ...). */
  colorSpace: Type.String(),
  /** Displayed size and frames as the decoder found them. */
  decodedWidth: Type.Integer(),
  decodedHeight: Type.Integer(),
  decodedFrames: Type.Integer(),
  /** The library (and version) that decoded the bytes. */
  decoder: Type.String(),
  thumbnail: Type.Object({ width: Type.Integer(), height: Type.Integer(), mimeType: Type.String() }),
});
export type MediaFacts = Static<typeof MediaFacts>;

export const AssetMetadata = Type.Object({
  fileSize: Type.Integer({ minimum: 0 }),
  mimeType: Type.String(),
  /** Displayed size: EXIF orientation applied. */
  width: Type.Integer({ minimum: 0 }),
  height: Type.Integer({ minimum: 0 }),
  frames: Type.Integer({ minimum: 1 }),
  /** `uploaded`, or `error` when processing found the bytes undecodable (`statusReason` says why). */
  status: Type.String(),
  /** `processing` until the asset's processing (decode, thumbnail) ends, then `completed`. */
  uploadStatus: Type.String(),
  /** [ext] Why `status` is `error`, or why a processed asset has no thumbnail (a variant no decoder here reads). */
  statusReason: Type.Optional(Type.String()),
  /** [ext] `ready` (contents.thumbnail has its URL), `pending` (processing) or `none` (it cannot be made). */
  thumbnail: Type.Optional(ThumbnailState),
  /** [ext] What the full decode found, once processed. */
  media: Type.Optional(MediaFacts),
  timeCreated: EpochMs,
  lastUpdated: EpochMs,
  contentsLastUpdated: EpochMs,
  annotations: Type.Object({
    total: Type.Integer({ minimum: 0 }),
    withTag: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  }),
  customMetadata: CustomMetadata,
  hash: Type.Object({ algorithm: Type.String(), contents: Type.String() }),
  /** Strings on the wire, as the Python client decodes them. */
  generations: Type.Object({ asset: Type.String(), thumbnail: Type.String() }),
  /** The stored pixel grid, before orientation. */
  dimensions: Dimensions,
  pixelRatio: Dimensions,
  /** [ext] EXIF orientation 1..8 (1 when absent). */
  orientation: Type.Integer({ minimum: 1, maximum: 8 }),
  insertedBy: Type.String(),
  source: Type.String(),
  visibility: Type.String(),
  userDefined: Type.Record(Type.String(), Type.Unknown()),
  cohorts: Type.Array(Type.String()),
  comments: Type.Integer({ minimum: 0 }),
  customMetadataCount: Type.Integer({ minimum: 0 }),
  contentsFrom: Type.String(),
  framesChange: Type.Record(Type.String(), Type.Integer()),
});
export type AssetMetadata = Static<typeof AssetMetadata>;

export const Asset = Type.Object({
  kind: Type.Literal("Image"),
  assetId: Id,
  /** The composite `{orgId}_{datasetId}`. */
  datasetId: Type.String(),
  workspaceId: Id,
  filename: Type.String(),
  owner: Type.String(),
  selfLink: Type.String(),
  etag: Type.String(),
  metadata: AssetMetadata,
  contents: Type.Optional(AssetContents),
});
export type Asset = Static<typeof Asset>;

export const ListAssetsQuery = Type.Object({
  p: Type.Optional(Type.String({ maxLength: 4096 })),
  s: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE })),
  sortBy: Type.Optional(Type.Enum(SORT_CRITERIA)),
  o: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc"), Type.Literal("d"), Type.Literal("a")])),
  filter: Type.Optional(Type.String({ maxLength: 65_536 })),
  metadataQuery: Type.Optional(Type.String({ maxLength: 65_536 })),
  contents: Flag,
  strictQuery: Flag,
  /** [ext] carry the exact totalCount of a filtered selection (unfiltered pages always carry it). */
  count: Flag,
  /** Sent by the Python client; `ruleQuery` is refused when not empty. */
  ruleQuery: Type.Optional(Type.String({ maxLength: 65_536 })),
  pageAfter: Flag,
});
export type ListAssetsQuery = Static<typeof ListAssetsQuery>;

export const GetAssetQuery = Type.Object({ contents: Flag });

/** A merge patch of custom metadata: a value sets its key, `null` removes it. */
export const CustomMetadataPatch = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
);

/** [ext] PATCH of one asset. With `replaceCustomMetadata` the object replaces all keys instead. */
export const UpdateAssetRequest = Type.Object(
  { customMetadata: CustomMetadataPatch, replaceCustomMetadata: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type UpdateAssetRequest = Static<typeof UpdateAssetRequest>;

/** [ext] PATCH of many assets at once: all of them change, or none. */
export const UpdateAssetsRequest = Type.Object(
  {
    updates: Type.Array(
      Type.Object(
        { assetId: Id, customMetadata: CustomMetadataPatch, replaceCustomMetadata: Type.Optional(Type.Boolean()) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);
export type UpdateAssetsRequest = Static<typeof UpdateAssetsRequest>;

export const UpdatedAssets = Type.Object({ items: Type.Array(Asset) });
export type UpdatedAssets = Static<typeof UpdatedAssets>;

/**
 * [ext] `POST .../datasets/D/reprocess`: queues the dataset's assets for processing again (after
 * a decoder upgrade). By default only assets an older build of the processing made; `all`
 * takes every asset. Idempotent: an asset already queued is queued once.
 */
export const ReprocessRequest = Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export type ReprocessRequest = Static<typeof ReprocessRequest>;
export const ReprocessResult = Type.Object({
  /** Assets newly queued by this request. */
  queued: Type.Integer({ minimum: 0 }),
  /** Jobs waiting or running across the server now (all datasets). */
  backlog: Type.Integer({ minimum: 0 }),
});
export type ReprocessResult = Static<typeof ReprocessResult>;
