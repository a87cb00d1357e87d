/**
 * The contract's constants, with no runtime dependency: clients import these without loading
 * the schema builder (which costs a CLI hundreds of milliseconds at start).
 */
/** IDs are 1..255 characters of [A-Za-z0-9-]: no `_`, because `_` joins `{orgId}_{datasetId}`. */
export const ID_PATTERN = "^[A-Za-z0-9-]{1,255}$";

/** Secret keys: `dtvi_` + 98 URL-safe characters, 103 in all (the Python client refuses other shapes). */
export const SECRET_KEY_PREFIX = "dtvi_";

export const SECRET_KEY_LENGTH = 103;

export const SECRET_KEY_PATTERN = /^dtvi_[A-Za-z0-9_-]{98}$/;

export const SORT_CRITERIA = [
  "default",
  "assetId",
  "filename",
  "lastModified.contents",
  "metadata.fileSize",
  "metadata.width",
  "metadata.height",
  "metadata.timeCreated",
] as const;

export const MAX_PAGE_SIZE = 1000;

export const DEFAULT_PAGE_SIZE = 100;

export type AssetSortCriterion = (typeof SORT_CRITERIA)[number];

export type SortOrder = "asc" | "desc";

export const CONDITION_STATUSES = ["Waiting", "Reached", "FailedReach"] as const;

export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/** The Python client decodes only these two. */
export const DATASET_TYPES = ["phrase-grounding", "vqa"] as const;

/** Error codes of the wire contract and the HTTP status each one answers with. */
export const ERROR_STATUS = {
  AuthenticationFailed: 401,
  InvalidApiKey: 401,
  PermissionDenied: 403,
  ValidationFailed: 400,
  InvalidParameter: 400,
  MissingRequiredField: 400,
  InvalidFileFormat: 400,
  FileTooLarge: 413,
  ResourceNotFound: 404,
  ResourceConflict: 409,
  RateLimitExceeded: 429,
  ServiceUnavailable: 503,
  /** [ext] The server's disk is full; retry after `Retry-After` (503 is for read-only or failing storage). */
  InsufficientStorage: 507,
  ServerError: 500,
} as const;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/** The closed set of per-file ingestion error codes. */
export const FILE_ERROR_CODES = [
  "EALREADY",
  "EBADMIME",
  "EBADSIZE",
  "ECORRUPT",
  "ENOQUOTA",
  "ETIMEOUT",
  "ENOASSET",
  "EOLDMETA",
  "ESEQMETA",
  "ERESNENT",
  "EPROJECT",
  "EUNKNOWN",
] as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

/** The seed's batch size: the SDK splits larger uploads into sessions of this many files. */
export const MAX_FILES_PER_SESSION = 10_000;

export const FAILURE_MODES = ["FailAfterOne", "FailAfterAll"] as const;

/** Singular and plural spellings are both accepted; answers use the plural the Python client decodes. */
export const OVERWRITE_POLICIES = ["RemoveLinkedResource", "KeepLinkedResource", "KeepLinkedResources"] as const;

export type FailureMode = (typeof FAILURE_MODES)[number];

export type OnAssetOverwritten = "RemoveLinkedResource" | "KeepLinkedResource" | "KeepLinkedResources";

export const dataPathId = (orgId: string, datasetId: string): string => `${orgId}_${datasetId}`;

/** Splits the composite `{orgId}_{datasetId}`; undefined when it is not one. */
export function splitDataPathId(composite: string): { orgId: string; datasetId: string } | undefined {
  const at = composite.indexOf("_");
  if (at <= 0 || at === composite.length - 1 || composite.indexOf("_", at + 1) !== -1) return undefined;
  return { orgId: composite.slice(0, at), datasetId: composite.slice(at + 1) };
}

/** Bounds on an asset's custom metadata (checked on upload and on update; 400 names the key). */
export const CUSTOM_METADATA_LIMITS = {
  maxKeys: 64,
  maxKeyLength: 128,
  maxStringLength: 1024,
  /** The whole object as JSON, in bytes. */
  maxBytes: 4096,
} as const;

/**
 * The largest session manifest the server parses (413 above it). The SDK keeps its manifests
 * well under it by splitting batches by size as well as by count.
 */
export const MAX_MANIFEST_BYTES = 24 * 1024 * 1024;

/** [ext] The content type of a batch upload's body (frames of file index, size and bytes). */
export const BATCH_UPLOAD_CONTENT_TYPE = "application/vnd.vi.upload-batch";

/** Annotation contents kinds the server stores. */
export const ANNOTATION_CONTENT_KINDS = ["PhraseGroundingBoundingBox", "Caption"] as const;
