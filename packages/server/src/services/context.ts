import { EventEmitter } from "node:events";
import type { ServerConfig } from "../config.js";
import type { MetadataStore } from "../store/metadata/metadata-store.js";
import type { BlobStore } from "../store/blob/blob-store.js";
import type { S3BlobStore } from "../store/blob/s3.js";
import { KeyedMutex, type Locks } from "../util/keyed-mutex.js";
import type { UrlSigner } from "./url-signer.js";

/** Where background work reports what no request is there to hear (the app's logger). */
export interface ServiceLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What every service is built from: the stores, the signer, and the rules' settings. */
export interface ServiceContext {
  config: ServerConfig;
  metadata: MetadataStore;
  blobs: BlobStore;
  /**
   * The bucket behind `blobs` when bytes live in S3 (for presigned URLs); `blobs` itself may be
   * a wrapper of it in tests.
   */
  bucket?: S3BlobStore;
  signer: UrlSigner;
  /** Publishing and deleting the same bytes never interleave (across replicas on PostgreSQL). */
  blobLocks: Locks;
  /**
   * Emits a session id whenever that session changes, to wake long-polls (in every replica on
   * PostgreSQL, through NOTIFY; long-polls also poll, so a lost wake-up only delays them).
   */
  sessionChanges: EventEmitter;
  /** Emits "processed" whenever processing recorded an asset's outcome (in any replica on PostgreSQL). */
  processingEvents: EventEmitter;
  /** Called after assets are committed: their processing jobs are queued (wakes the worker). */
  onAssetsCommitted?: () => void;
  log?: ServiceLog;
}

export function newSessionChanges(): EventEmitter {
  const e = new EventEmitter();
  e.setMaxListeners(0);
  return e;
}

export { KeyedMutex, type Locks };
