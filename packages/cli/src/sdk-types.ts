/** The SDK types vi-cli works with, in one place. */
export type {
  Asset,
  AssetUploadResult,
  Dataset,
  DeletedDataset,
  DownloadOptions,
  DownloadResult,
  IngestionSession,
  ListAssetsOptions,
  UploadOptions,
} from "@vi/sdk";
