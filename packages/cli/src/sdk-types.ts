/** The SDK types vi-cli works with, in one place. */
export type {
  Annotation,
  Asset,
  AssetUploadResult,
  BulkAssetDeletionSession,
  Dataset,
  DeletedDataset,
  DownloadOptions,
  DownloadResult,
  IngestionSession,
  ListAssetsOptions,
  UploadOptions,
} from "@vi/sdk";
