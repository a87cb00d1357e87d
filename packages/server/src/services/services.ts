import { AnnotationService } from "./annotation-service.js";
import { AssetService } from "./asset-service.js";
import { AuthService } from "./auth-service.js";
import { BlobReleaser } from "./blob-releaser.js";
import type { ServiceContext } from "./context.js";
import { DatasetService } from "./dataset-service.js";
import { DeletionService } from "./deletion-service.js";
import { SessionJanitor } from "./session-janitor.js";
import { IngestionService } from "./ingestion-service.js";
import { OrganizationService } from "./organization-service.js";
import { ProcessingService } from "./processing-service.js";
import { BatchUpload } from "./batch-upload.js";
import { PresignedUploads } from "./presigned-uploads.js";
import { StagingSweeper } from "./staging-sweeper.js";
import { DEFAULT_MULTIPART_THRESHOLD } from "../store/blob/s3-multipart.js";
import { createDecoderPool } from "../media/decode/index.js";

export interface Services {
  auth: AuthService;
  organizations: OrganizationService;
  datasets: DatasetService;
  assets: AssetService;
  ingestion: IngestionService;
  annotations: AnnotationService;
  deletions: DeletionService;
  janitor: SessionJanitor;
  releaser: BlobReleaser;
  processing: ProcessingService;
  batchUpload: BatchUpload;
  /** With an S3 store: uploads straight to the bucket, and the sweep of its staging area. */
  presigned?: PresignedUploads;
  stagingSweeper?: StagingSweeper;
}

/** Wires the services once; each gets only what it uses. */
export function createServices(ctx: ServiceContext): Services {
  const releaser = new BlobReleaser(ctx);
  const datasets = new DatasetService(ctx, releaser);
  const assets = new AssetService(ctx, datasets, releaser);
  const { config } = ctx;
  const processing = new ProcessingService(ctx, releaser, () =>
    createDecoderPool({
      concurrency: config.processingConcurrency,
      nice: config.processingNice,
      limits: { maxPixels: config.maxPixels, timeoutMs: config.decodeTimeoutSeconds * 1000 },
    }),
  );
  ctx.onAssetsCommitted = () => processing.kick();
  const ingestion = new IngestionService(ctx, datasets, releaser);
  const bucket = ctx.bucket;
  const presigned = bucket
    ? new PresignedUploads(ctx, ingestion, bucket, ctx.config.s3?.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD)
    : undefined;
  if (presigned) ingestion.landing = async (sessionId) => void (await presigned.land(sessionId));
  return {
    releaser,
    ...(presigned && bucket
      ? { presigned, stagingSweeper: new StagingSweeper(ctx, bucket, presigned, ingestion) }
      : {}),
    auth: new AuthService(ctx),
    organizations: new OrganizationService(ctx),
    datasets,
    assets,
    ingestion,
    batchUpload: new BatchUpload(ctx, ingestion, releaser),
    annotations: new AnnotationService(ctx, assets),
    deletions: new DeletionService(ctx, datasets, assets, releaser),
    janitor: new SessionJanitor(ctx),
    processing,
  };
}
