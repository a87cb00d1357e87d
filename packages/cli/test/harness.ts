import { vi } from "vitest";
import {
  AssetUploadResult,
  PagePromise,
  type Asset,
  type Dataset,
  type DeletedDataset,
  type IngestionSession,
  type Page,
} from "@vi/sdk";
import { run, type CliClient, type CliDeps, type ClientOptions } from "../src/index.js";

/** Collects what the program writes. */
export class Sink {
  text = "";
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** A fake of the SDK's public surface: every method a vi.fn, to be given behaviour per test. */
export function fakeClient() {
  return {
    organizations: {
      get: vi.fn(),
      createKey: vi.fn(),
      listKeys: vi.fn(),
      revokeKey: vi.fn(),
    },
    datasets: {
      create: vi.fn(),
      list: vi.fn(),
      get: vi.fn(),
      delete: vi.fn(),
      bulkDeleteAssets: vi.fn(),
    },
    assets: {
      upload: vi.fn(),
      waitUntilDone: vi.fn(),
      list: vi.fn(),
      count: vi.fn(),
      get: vi.fn(),
      update: vi.fn(),
      updateMany: vi.fn(),
      delete: vi.fn(),
      download: vi.fn(),
    },
    annotations: {
      create: vi.fn(),
      list: vi.fn(),
      get: vi.fn(),
      delete: vi.fn(),
    },
    close: vi.fn(async () => {}),
  };
}
export type FakeClient = ReturnType<typeof fakeClient>;

export interface Invocation {
  code: number;
  stdout: string;
  stderr: string;
  client: FakeClient;
  createClient: ReturnType<typeof vi.fn<(options: ClientOptions) => CliClient>>;
}

/** Runs vi-cli in-process with a fake client; `deps` overrides the rest. */
export async function cli(argv: string[], client: FakeClient = fakeClient(), deps: CliDeps = {}): Promise<Invocation> {
  const stdout = new Sink();
  const stderr = new Sink();
  const createClient = vi.fn((_options: ClientOptions) => client as unknown as CliClient);
  const code = await run(argv, {
    createClient,
    stdout,
    stderr,
    env: {},
    cwd: "/work/here",
    isInteractive: () => false,
    confirm: async () => false,
    loadServer: async () => {
      throw new Error("serve is not under test here");
    },
    ...deps,
  });
  return { code, stdout: stdout.text, stderr: stderr.text, client, createClient };
}

/** A PagePromise over fixed pages (the SDK's own class, fed by a fetcher). */
export function pagesOf<T>(pages: T[][]): PagePromise<T> {
  return new PagePromise<T>(async (token) => {
    const index = token === undefined ? 0 : Number(token);
    const items = pages[index] ?? [];
    const next = index + 1 < pages.length ? String(index + 1) : null;
    const page: Page<T> = { items, nextPage: next, prevPage: index > 0 ? String(index - 1) : null };
    return page;
  });
}

export function dataset(overrides: Partial<Dataset> = {}): Dataset {
  return {
    kind: "Dataset",
    datasetId: "ds1",
    name: "cats",
    owner: "owner",
    workspaceId: "org",
    type: "object-detection",
    content: "Image",
    createDate: Date.UTC(2025, 0, 2),
    statistic: { assetTotal: 3, annotationTotal: 0, tagsCount: {}, assetAnnotated: 0 },
    users: {},
    tags: {},
    cohorts: [],
    status: 0,
    lastAccessed: 0,
    isLocked: false,
    access: { isPublic: false, isReadOnly: false },
    preference: {},
    assetStatuses: {},
    selfLink: "",
    etag: "",
    ...overrides,
  };
}

export function deletedDataset(datasetId = "ds1", deletedAssets = 3): DeletedDataset {
  return {
    kind: "DeletedDataset",
    user: "owner",
    datasetId,
    workspaceId: "org",
    selfLink: "",
    etag: "",
    metadata: { timeCreated: 0, lastUpdated: 0, generation: 1, attributes: {} },
    status: { conditions: [{ condition: "Deleted", status: "Reached", lastTransitionTime: 0 }] },
    deleted: true,
    deletedAssets,
  };
}

export function asset(id: string, filename: string, overrides: Partial<Asset> = {}): Asset {
  return {
    kind: "Image",
    assetId: id,
    datasetId: "org_ds1",
    workspaceId: "org",
    filename,
    owner: "owner",
    selfLink: "",
    etag: "",
    metadata: {
      fileSize: 2048,
      mimeType: "image/jpeg",
      width: 640,
      height: 480,
      frames: 1,
      status: "uploaded",
      uploadStatus: "completed",
      timeCreated: 0,
      lastUpdated: 0,
      contentsLastUpdated: 0,
      annotations: { total: 0, withTag: {} },
      customMetadata: {},
      hash: { algorithm: "sha256", contents: "00" },
      generations: { asset: "1", thumbnail: "1" },
      dimensions: { width: 640, height: 480 },
      pixelRatio: { width: 1, height: 1 },
      orientation: 1,
      insertedBy: "",
      source: "",
      visibility: "",
      userDefined: {},
      cohorts: [],
      comments: 0,
      customMetadataCount: 0,
      contentsFrom: "",
      framesChange: {},
    },
    ...overrides,
  };
}

export function session(
  id: string,
  counts: { total: number; succeeded: number; errored: number },
  errors: Record<string, string> = {},
): IngestionSession {
  return {
    kind: "AssetIngestionSession",
    workspaceId: "org",
    datasetId: "org_ds1",
    assetSourceClass: "managed",
    assetSourceProvider: "datature",
    assetSourceId: "transient",
    assetIngestionSessionId: id,
    selfLink: "",
    etag: "",
    metadata: { timeCreated: 0, lastUpdated: 0, generation: 1, attributes: {} },
    spec: { kind: "Upload", failureMode: "FailAfterAll", onAssetOverwritten: "RemoveLinkedResource", assets: [] },
    status: {
      conditions: [{ condition: "Finished", status: "Reached", lastTransitionTime: 0 }],
      progressCount: counts,
      events:
        Object.keys(errors).length > 0
          ? [
              {
                kind: "Error",
                files: Object.fromEntries(Object.keys(errors).map((f) => [f, "ECORRUPT" as const])),
                corrections: {},
                messages: errors,
                time: 0,
              },
            ]
          : [],
      assets: [
        {
          metadata: { filename: "a.jpg", mime: "image/jpeg", size: 1, crc32c: 0, kind: "Image", customMetadata: null },
          upload: { url: "http://signed/upload-url", expiry: 0, method: "PUT", headers: {} },
        },
      ],
    },
  };
}

export function uploadResult(
  total: number,
  failed: { path: string; filename: string; code: string; reason: string }[] = [],
): AssetUploadResult {
  return new AssetUploadResult({
    totalFiles: total,
    totalSucceeded: total - failed.length,
    failedFiles: failed,
    sessions: [session("sess1", { total, succeeded: total - failed.length, errored: failed.length })],
    durationMs: 1500,
    bytesSent: 4096,
  });
}
