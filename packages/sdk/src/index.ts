export { Client, ENV, findCredentialsFile, type ClientOptions, type ConfigProblem } from "./client.js";
export {
  ViError,
  ViAuthenticationError,
  ViPermissionError,
  ViNotFoundError,
  ViValidationError,
  ViConflictError,
  ViFileTooLargeError,
  ViRateLimitError,
  ViServerError,
  ViNetworkError,
  ViTimeoutError,
  ViUploadError,
  ViConfigurationError,
  ViBulkDeleteError,
} from "./core/errors.js";
export { PagePromise, type Page } from "./core/pagination.js";
export { AssetUploadResult, type FailedFile, type SummaryOptions } from "./lib/upload-result.js";
export { formatBytes } from "./lib/progress.js";
export type { DownloadOptions, DownloadResult } from "./lib/download-manager.js";
export type { UploadOptions, WaitOptions } from "./lib/upload-manager.js";
export {
  METADATA_SIDECAR,
  type CustomMetadataPatch,
  type CustomMetadataValue,
  type UnmatchedMetadataEntry,
  type UploadCustomMetadata,
  type UploadFileInfo,
} from "./lib/custom-metadata.js";
export type { AssetSelection } from "./lib/selection.js";
export {
  MAX_UPDATES_PER_REQUEST,
  type AssetMetadataUpdate,
  type CountAssetsOptions,
  type ListAssetsOptions,
  type UpdateAssetOptions,
  type UpdateManyAssetsOptions,
} from "./resources/assets.js";
export type {
  BulkDeleteAssetsOptions,
  BulkDeleteSessionOptions,
  CreateDatasetOptions,
  WaitForBulkDeleteOptions,
} from "./resources/datasets.js";
export type {
  AnnotationRef,
  BoundingBox,
  CreateAnnotationOptions,
  ListAnnotationsOptions,
} from "./resources/annotations.js";
export { LOCAL_PATH_ERROR_CODES, SUPPORTED_EXTENSIONS, type LocalPathErrorCode, type SkippedFile } from "./lib/walk.js";
export type {
  Annotation,
  AnnotationContents,
  Asset,
  AssetMetadata,
  AssetSortCriterion,
  BulkAssetDeletionSession,
  BulkDeleteSpec,
  Condition,
  Contents,
  CreatedSecretKey,
  SecretKeySummary,
  CustomMetadata,
  Dataset,
  DeletedDataset,
  ErrorBody,
  FailureMode,
  FileErrorCode,
  IngestionErrorEvent,
  IngestionEvent,
  IngestionSession,
  OnAssetOverwritten,
  Organization,
  PageOf,
  ProgressCount,
  SortOrder,
} from "@vi/protocol";
