import {
  apiPaths,
  dataPathId,
  type Annotation,
  type BulkAssetDeletionSession,
  type Asset,
  type Dataset,
  type DeletedDataset,
  type IngestionErrorEvent,
  type IngestionSession,
  type Organization,
  type Condition,
  type MediaFacts,
} from "@vi/protocol";
import type {
  AnnotationRecord,
  AssetRecord,
  DeletionSessionRecord,
  OrganizationRecord,
} from "../store/metadata/records.js";
import type { AssetContents } from "../services/asset-service.js";
import type { DatasetView } from "../services/dataset-service.js";
import type { BatchTargetView, SessionView, UploadTargetView } from "../services/ingestion-service.js";
import type { ServerConfig } from "../config.js";

/**
 * Records to wire shapes. Every field the contract lists is present, with neutral values for
 * the ones this server has no notion of (cohorts, comments, ...), because the Python client
 * decodes into strict structs.
 */
const etagOf = (...parts: (string | number)[]) => `"${parts.join("-")}"`;

export function presentOrganization(
  org: OrganizationRecord,
  datasets: string[],
  config: ServerConfig,
  maxFilesPerSession: number,
): Organization {
  return {
    kind: "Workspace",
    workspaceId: org.orgId,
    name: org.name,
    owner: org.orgId,
    createDate: org.createdAt,
    lastAccess: Date.now(),
    datasets,
    billing: { payer: org.orgId, email: "", subscriberId: "", ledger: [], tier: "self-hosted" },
    users: {},
    metadata: { createDate: org.createdAt, isPublic: false },
    features: {},
    lockStatus: { isLocked: false },
    selfLink: apiPaths.organization(org.orgId),
    etag: etagOf(org.orgId, org.createdAt),
    limits: { maxFileSize: config.maxFileSize, maxPixels: config.maxPixels, maxFilesPerSession },
  };
}

export function presentDataset({ dataset: d, stats }: DatasetView): Dataset {
  return {
    kind: "Dataset",
    datasetId: d.datasetId,
    name: d.name,
    ...(d.description !== null ? { description: d.description } : {}),
    owner: d.orgId,
    workspaceId: d.orgId,
    type: d.type,
    content: d.content,
    createDate: d.createdAt,
    statistic: {
      assetTotal: stats.assetTotal,
      annotationTotal: stats.annotationTotal,
      tagsCount: stats.tagsCount,
      assetAnnotated: stats.assetAnnotated,
    },
    users: {},
    tags: stats.tagIds,
    cohorts: [],
    status: 0,
    lastAccessed: d.lastAccessed,
    isLocked: false,
    access: { isPublic: false, isReadOnly: false },
    preference: {},
    assetStatuses: {},
    selfLink: apiPaths.dataset(d.orgId, d.datasetId),
    etag: etagOf(d.datasetId, d.createdAt),
  };
}

export function presentAsset(a: AssetRecord, contents?: AssetContents): Asset {
  return {
    kind: "Image",
    assetId: a.assetId,
    datasetId: dataPathId(a.orgId, a.datasetId),
    workspaceId: a.orgId,
    filename: a.filename,
    owner: a.orgId,
    selfLink: apiPaths.asset(a.orgId, a.datasetId, a.assetId),
    etag: etagOf(a.sha256.slice(0, 16), a.generation, a.updatedAt),
    metadata: {
      fileSize: a.fileSize,
      mimeType: a.mimeType,
      width: a.width,
      height: a.height,
      frames: a.frames,
      status: a.status,
      uploadStatus: a.uploadStatus,
      ...(a.statusReason !== null ? { statusReason: a.statusReason } : {}),
      timeCreated: a.createdAt,
      lastUpdated: a.updatedAt,
      contentsLastUpdated: a.contentsUpdatedAt,
      annotations: { total: a.annotationTotal, withTag: a.annotationTags },
      customMetadata: a.customMetadata,
      hash: { algorithm: "sha256", contents: a.sha256 },
      generations: { asset: String(a.generation), thumbnail: String(a.thumbnail?.generation ?? 0) },
      thumbnail: a.thumbnail ? "ready" : a.uploadStatus === "processing" ? "pending" : "none",
      ...(a.media ? { media: a.media as MediaFacts } : {}),
      dimensions: { width: a.rawWidth, height: a.rawHeight },
      pixelRatio: { width: 1, height: 1 },
      orientation: a.orientation,
      insertedBy: a.orgId,
      source: "upload",
      visibility: "visible",
      userDefined: {},
      cohorts: [],
      comments: 0,
      customMetadataCount: Object.keys(a.customMetadata).length,
      contentsFrom: "upload",
      framesChange: {},
    },
    ...(contents ? { contents } : {}),
  };
}

/**
 * A refused filename may hold control characters (that is why it was refused); as a key it is
 * written with them escaped (`a\nb.jpg`), so that the caller can still tell which file failed
 * (the serializer drops keys with line breaks) and no terminal interprets them.
 */
export function escapeControls(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const short: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return short[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

export function presentSession(
  view: SessionView,
  targetOf: (file: SessionView["files"][number]) => UploadTargetView,
  batchTarget?: () => BatchTargetView,
): IngestionSession {
  const { session: s, files } = view;
  const failed = files.filter((f) => f.state === "failed");
  const events: IngestionErrorEvent[] = [];
  if (failed.length > 0) {
    events.push({
      kind: "Error",
      files: Object.fromEntries(failed.map((f) => [escapeControls(f.filename), f.errorCode ?? "EUNKNOWN"])),
      corrections: {},
      messages: Object.fromEntries(failed.map((f) => [escapeControls(f.filename), f.errorMessage ?? ""])),
      time: Math.max(...failed.map((f) => f.updatedAt)),
    });
  }
  const finished: Condition =
    s.state === "Running"
      ? { condition: "Finished", status: "Waiting", lastTransitionTime: s.createdAt }
      : s.state === "Failed"
        ? {
            condition: "Finished",
            status: "FailedReach",
            lastTransitionTime: s.updatedAt,
            reason: "FileFailed",
            message: s.failureReason ?? "a file failed",
          }
        : { condition: "Finished", status: "Reached", lastTransitionTime: s.updatedAt };
  return {
    kind: "AssetIngestionSession",
    workspaceId: s.orgId,
    datasetId: dataPathId(s.orgId, s.datasetId),
    assetSourceClass: "managed",
    assetSourceProvider: "datature",
    assetSourceId: "transient",
    assetIngestionSessionId: s.sessionId,
    selfLink: apiPaths.ingestionSession(s.orgId, s.datasetId, s.sessionId),
    etag: etagOf(s.sessionId, s.generation),
    metadata: { timeCreated: s.createdAt, lastUpdated: s.updatedAt, generation: s.generation, attributes: {} },
    spec: {
      kind: "Upload",
      failureMode: s.failureMode,
      onAssetOverwritten: s.onOverwrite,
      // The manifest is echoed in status.assets for the files still expecting bytes.
      assets: [],
    },
    status: {
      conditions: [{ condition: "Started", status: "Reached", lastTransitionTime: s.createdAt }, finished],
      progressCount: { total: s.total, succeeded: s.succeeded, errored: s.errored },
      events,
      assets:
        s.state === "Running"
          ? files
              .filter((f) => f.state === "pending")
              .map((f) => ({
                metadata: {
                  filename: f.filename,
                  mime: f.mime,
                  size: f.size,
                  crc32c: f.crc32c,
                  kind: "Image",
                  customMetadata: f.customMetadata,
                },
                upload: targetOf(f),
              }))
          : [],
      deduplicated: files.filter((f) => f.deduplicated).map((f) => f.filename),
      ...(view.processing ? { processing: view.processing } : {}),
      ...(s.state === "Running" && batchTarget ? { batchUpload: batchTarget() } : {}),
    },
  };
}

export function presentAnnotation(a: AnnotationRecord): Annotation {
  return {
    kind: "Annotation",
    annotationId: a.annotationId,
    assetId: a.assetId,
    datasetId: dataPathId(a.orgId, a.datasetId),
    workspaceId: a.orgId,
    selfLink: apiPaths.annotation(a.orgId, a.datasetId, a.assetId, a.annotationId),
    etag: etagOf(a.annotationId, a.updatedAt),
    metadata: { timeCreated: a.createdAt, lastUpdated: a.updatedAt, generation: 1, attributes: {} },
    spec: {
      boundType: a.contents.kind,
      tag: a.tagId,
      tagName: a.tag,
      aggregation: { whole: { id: a.annotationId }, thisPart: { role: a.contents.kind } },
      contents: a.contents,
    },
  };
}

export function presentDeletionSession(s: DeletionSessionRecord): BulkAssetDeletionSession {
  const finished: Condition =
    s.state === "Running"
      ? { condition: "Finished", status: "Waiting", lastTransitionTime: s.createdAt }
      : s.state === "Failed"
        ? {
            condition: "Finished",
            status: "FailedReach",
            lastTransitionTime: s.updatedAt,
            ...(s.failureReason ? { message: s.failureReason } : {}),
          }
        : { condition: "Finished", status: "Reached", lastTransitionTime: s.updatedAt };
  const spec = s.spec as BulkAssetDeletionSession["spec"];
  return {
    kind: "BulkAssetDeletionSession",
    workspaceId: s.orgId,
    datasetId: dataPathId(s.orgId, s.datasetId),
    deleteManyAssetsSessionId: s.sessionId,
    selfLink: apiPaths.deleteManyAssetsSession(s.orgId, s.datasetId, s.sessionId),
    etag: etagOf(s.sessionId, s.generation),
    metadata: { timeCreated: s.createdAt, lastUpdated: s.updatedAt, generation: s.generation, attributes: {} },
    spec: {
      filter: spec.filter ?? null,
      metadataQuery: spec.metadataQuery ?? null,
      ruleQuery: spec.ruleQuery ?? null,
      strictQuery: spec.strictQuery ?? null,
      dryRun: s.dryRun,
    },
    status: {
      conditions: [{ condition: "Started", status: "Reached", lastTransitionTime: s.createdAt }, finished],
      selected: s.selected,
      deleted: s.deleted,
    },
  };
}

export function presentDeletedDataset(orgId: string, datasetId: string, deletedAssets: number): DeletedDataset {
  const t = Date.now();
  return {
    kind: "DeletedDataset",
    user: orgId,
    datasetId,
    workspaceId: orgId,
    selfLink: apiPaths.dataset(orgId, datasetId),
    etag: etagOf(datasetId, t),
    metadata: { timeCreated: t, lastUpdated: t, generation: 1, attributes: {} },
    status: { conditions: [{ condition: "Finished", status: "Reached", lastTransitionTime: t }] },
    deleted: true,
    deletedAssets,
  };
}
