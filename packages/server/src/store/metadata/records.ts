import type { CustomMetadata, FileErrorCode } from "@vi/protocol";
import type { ImageInfo } from "../../media/image-info.js";

/** Rows as the services see them: store-neutral, no wire names, no HTTP. */

export interface OrganizationRecord {
  orgId: string;
  name: string;
  createdAt: number;
}

export interface SecretKeyRecord {
  keyId: string;
  orgId: string;
  name: string;
  keyHash: string;
  createdAt: number;
}

export interface DatasetRecord {
  orgId: string;
  datasetId: string;
  name: string;
  description: string | null;
  type: string;
  content: string;
  createdAt: number;
  lastAccessed: number;
}

export interface DatasetStats {
  assetTotal: number;
  annotationTotal: number;
  assetAnnotated: number;
  /** Annotations per tag name. */
  tagsCount: Record<string, number>;
  /** The dataset's tags: name to stable integer id. */
  tagIds: Record<string, number>;
}

/** What an asset's bytes are, as the media probe found them (stored with the asset). */
export type ImageFacts = ImageInfo;

export interface AssetRecord extends ImageFacts {
  seq: number;
  assetId: string;
  orgId: string;
  datasetId: string;
  filename: string;
  sha256: string;
  fileSize: number;
  customMetadata: CustomMetadata;
  createdAt: number;
  updatedAt: number;
  contentsUpdatedAt: number;
  generation: number;
  /** `uploaded`, or `error` when processing found the bytes undecodable (`statusReason` says why). */
  status: string;
  /** `processing` until the asset's processing ends, then `completed` (whatever it found). */
  uploadStatus: "processing" | "completed";
  /** Why `status` is `error`, or why an asset processed without error has no thumbnail. */
  statusReason: string | null;
  /** The thumbnail's bytes and the generation of its signed path; null while there is none. */
  thumbnail: { sha256: string; size: number; generation: number } | null;
  /** What the decoder found, once processed. */
  media: Record<string, unknown> | null;
  annotationTotal: number;
  annotationTags: Record<string, number>;
}

export type SessionState = "Running" | "Finished" | "Failed";
export type FileState = "pending" | "succeeded" | "failed";

export interface IngestionSessionRecord {
  sessionId: string;
  orgId: string;
  datasetId: string;
  failureMode: "FailAfterOne" | "FailAfterAll";
  onOverwrite: "RemoveLinkedResource" | "KeepLinkedResources";
  state: SessionState;
  failureReason: string | null;
  total: number;
  succeeded: number;
  errored: number;
  createdAt: number;
  updatedAt: number;
  /** When the session's upload URLs stop being valid. */
  expiresAt: number;
  generation: number;
}

export interface IngestionFileRecord {
  sessionId: string;
  fileIndex: number;
  filename: string;
  mime: string;
  size: number;
  crc32c: number;
  sha256: string | null;
  customMetadata: CustomMetadata | null;
  state: FileState;
  errorCode: FileErrorCode | null;
  errorMessage: string | null;
  assetId: string | null;
  deduplicated: boolean;
  updatedAt: number;
}

export type AnnotationContentsRecord =
  { kind: "PhraseGroundingBoundingBox"; bound: number[][]; target: number[] } | { kind: "Caption"; contents: string };

export interface AnnotationRecord {
  annotationId: string;
  orgId: string;
  datasetId: string;
  assetId: string;
  /** The tag's name; `tagId` is its integer id within the dataset. */
  tag: string;
  tagId: number;
  contents: AnnotationContentsRecord;
  createdAt: number;
  updatedAt: number;
}

/** A bulk delete: the selection it was opened with, and how far it got. */
export interface DeletionSessionRecord {
  sessionId: string;
  orgId: string;
  datasetId: string;
  /** The request's spec as sent (filter, metadataQuery, strictQuery, dryRun). */
  spec: Record<string, unknown>;
  dryRun: boolean;
  state: "Running" | "Finished" | "Failed";
  failureReason: string | null;
  selected: number;
  deleted: number;
  createdAt: number;
  updatedAt: number;
  generation: number;
}
