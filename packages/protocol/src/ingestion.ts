import { Type, type Static } from "typebox";
import { FAILURE_MODES, FILE_ERROR_CODES, MAX_FILES_PER_SESSION, OVERWRITE_POLICIES } from "./constants.js";
import { CustomMetadata, EpochMs, Id, ResourceMetadata } from "./common.js";
import { Condition } from "./condition.js";

export const IngestionFileSpec = Type.Object({
  /** Relative path inside the dataset, `/`-separated (e.g. `cats/001.jpg`). */
  filename: Type.String({ minLength: 1, maxLength: 1024 }),
  mime: Type.Optional(Type.String({ maxLength: 255 })),
  /** Bytes; at most 2^53 - 1, so that every store keeps it exactly (PostgreSQL's bigint, JSON numbers). */
  size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  /** Big-endian CRC-32C of the whole file, read as a signed 32-bit integer. */
  crc32c: Type.Integer({ minimum: -2147483648, maximum: 2147483647 }),
  /** [ext] hex SHA-256, for deduplication. */
  sha256: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$" })),
  customMetadata: Type.Optional(Type.Union([CustomMetadata, Type.Null()])),
  kind: Type.Optional(Type.Literal("Image")),
});
export type IngestionFileSpec = Static<typeof IngestionFileSpec>;

export const IngestionSpec = Type.Object({
  kind: Type.Literal("Upload"),
  failureMode: Type.Optional(Type.Enum(FAILURE_MODES)),
  onAssetOverwritten: Type.Optional(Type.Enum(OVERWRITE_POLICIES)),
  assets: Type.Array(IngestionFileSpec, { minItems: 1, maxItems: MAX_FILES_PER_SESSION }),
});
export type IngestionSpec = Static<typeof IngestionSpec>;

export const CreateIngestionSessionRequest = Type.Object({ spec: IngestionSpec });
export type CreateIngestionSessionRequest = Static<typeof CreateIngestionSessionRequest>;

/**
 * [ext] With an S3 store, files above a threshold may also be sent in parts straight to the
 * bucket: POST `start` (no body) answers `MultipartStart`; each part is PUT to its URL; POST
 * `complete` with `{uploadId, parts: [{partNumber, etag}]}` ends it. The single PUT stays valid.
 */
export const MultipartTarget = Type.Object({
  start: Type.String(),
  complete: Type.String(),
  partSize: Type.Integer({ minimum: 1 }),
});
export type MultipartTarget = Static<typeof MultipartTarget>;

export const MultipartStart = Type.Object({
  uploadId: Type.String(),
  partSize: Type.Integer({ minimum: 1 }),
  parts: Type.Array(Type.Object({ partNumber: Type.Integer(), url: Type.String(), size: Type.Integer() })),
});
export type MultipartStart = Static<typeof MultipartStart>;

export const MultipartComplete = Type.Object({
  uploadId: Type.String({ minLength: 1, maxLength: 1024 }),
  parts: Type.Array(
    Type.Object({ partNumber: Type.Integer({ minimum: 1, maximum: 10_000 }), etag: Type.String({ maxLength: 256 }) }),
    { maxItems: 10_000 },
  ),
});
export type MultipartComplete = Static<typeof MultipartComplete>;

export const UploadTarget = Type.Object({
  url: Type.String(),
  expiry: EpochMs,
  method: Type.Literal("PUT"),
  /** Headers the client must send with the PUT (with an S3 store, the signed `x-amz-checksum-crc32c`). */
  headers: Type.Record(Type.String(), Type.String()),
  multipart: Type.Optional(MultipartTarget),
});
export type UploadTarget = Static<typeof UploadTarget>;

export const IngestionAssetStatus = Type.Object({
  metadata: Type.Object({
    filename: Type.String(),
    mime: Type.String(),
    size: Type.Integer(),
    crc32c: Type.Integer(),
    kind: Type.String(),
    customMetadata: Type.Union([CustomMetadata, Type.Null()]),
  }),
  upload: UploadTarget,
});
export type IngestionAssetStatus = Static<typeof IngestionAssetStatus>;

export const IngestionErrorEvent = Type.Object({
  kind: Type.Literal("Error"),
  files: Type.Record(Type.String(), Type.Enum(FILE_ERROR_CODES)),
  corrections: Type.Record(Type.String(), Type.Unknown()),
  /** [ext] a human-readable reason per file. */
  messages: Type.Record(Type.String(), Type.String()),
  time: EpochMs,
});
export const IngestionProgressEvent = Type.Object({
  kind: Type.Literal("Progress"),
  /** Each task an object of counts: the Python client decodes `{task: {str: int}}`. */
  tasks: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer())),
  time: EpochMs,
});
export type IngestionErrorEvent = Static<typeof IngestionErrorEvent>;
export type IngestionEvent = IngestionErrorEvent | Static<typeof IngestionProgressEvent>;

export const ProgressCount = Type.Object({
  total: Type.Integer({ minimum: 0 }),
  succeeded: Type.Integer({ minimum: 0 }),
  errored: Type.Integer({ minimum: 0 }),
});
export type ProgressCount = Static<typeof ProgressCount>;

export const ProcessingCount = Type.Object({
  processing: Type.Integer({ minimum: 0 }),
  completed: Type.Integer({ minimum: 0 }),
  errored: Type.Integer({ minimum: 0 }),
});
export type ProcessingCount = Static<typeof ProcessingCount>;

export const BatchUploadTarget = Type.Object({
  url: Type.String(),
  expiry: EpochMs,
  method: Type.Literal("PUT"),
  /** Files in one request. */
  maxFiles: Type.Integer({ minimum: 1 }),
  /** Largest file sent this way; larger ones take their own PUT. */
  maxFileBytes: Type.Integer({ minimum: 1 }),
  /** Largest request, frame headers included. */
  maxBytes: Type.Integer({ minimum: 1 }),
});
export type BatchUploadTarget = Static<typeof BatchUploadTarget>;

/** [ext] What became of each file of an upload batch, in the order of its frames. */
export const BatchUploadResult = Type.Object({
  files: Type.Array(
    Type.Object({
      fileIndex: Type.Integer(),
      filename: Type.Optional(Type.String()),
      assetId: Type.Optional(Type.String()),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});
export type BatchUploadResult = Static<typeof BatchUploadResult>;

export const IngestionSession = Type.Object({
  kind: Type.Literal("AssetIngestionSession"),
  workspaceId: Id,
  datasetId: Type.String(),
  assetSourceClass: Type.Literal("managed"),
  assetSourceProvider: Type.Literal("datature"),
  assetSourceId: Type.Literal("transient"),
  assetIngestionSessionId: Id,
  selfLink: Type.String(),
  etag: Type.String(),
  metadata: ResourceMetadata,
  spec: Type.Object({
    kind: Type.Literal("Upload"),
    failureMode: Type.String(),
    onAssetOverwritten: Type.String(),
    assets: Type.Array(Type.Unknown()),
  }),
  status: Type.Object({
    conditions: Type.Array(Condition),
    progressCount: ProgressCount,
    events: Type.Array(Type.Union([IngestionErrorEvent, IngestionProgressEvent])),
    assets: Type.Array(IngestionAssetStatus),
    /** [ext] files committed without bytes because the organization already held them. */
    deduplicated: Type.Optional(Type.Array(Type.String())),
    /**
     * [ext] Once the session is settled: how its committed assets stand in processing (still
     * `processing`, `completed` without error, `errored`), as they are now.
     */
    processing: Type.Optional(ProcessingCount),
    /**
     * [ext] While the session runs: where many small files go in one request (frames of a
     * 4-byte big-endian file index, a 4-byte big-endian size, the bytes), made durable together.
     */
    batchUpload: Type.Optional(BatchUploadTarget),
  }),
});
export type IngestionSession = Static<typeof IngestionSession>;

export const SessionStatusQuery = Type.Object({
  /** `Finished`: until the session settles; [ext] `Processed`: and until its assets are processed too. */
  waitFor: Type.Optional(Type.Union([Type.Literal("Finished"), Type.Literal("Processed")])),
  timeout: Type.Optional(Type.Number({ minimum: 0, maximum: 300 })),
});
