export { Client, ENV, type ClientOptions } from "./client.js";
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
} from "./core/errors.js";
export { PagePromise, type Page } from "./core/pagination.js";
export { AssetUploadResult, type FailedFile } from "./lib/upload-result.js";
export type { DownloadOptions, DownloadResult } from "./lib/download-manager.js";
export type { UploadOptions, WaitOptions } from "./lib/upload-manager.js";
export type { ListAssetsOptions } from "./resources/assets.js";
export type { CreateDatasetOptions } from "./resources/datasets.js";
export { SUPPORTED_EXTENSIONS } from "./lib/walk.js";
export type {
  Asset,
  AssetMetadata,
  AssetSortCriterion,
  Condition,
  Contents,
  CreatedSecretKey,
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
