import { apiPaths, type Asset, type AssetSortCriterion, type IngestionSession, type SortOrder } from "@vi/protocol";
import type { ClientContext } from "../client.js";
import { PagePromise, type Page } from "../core/pagination.js";
import { downloadAssets, type DownloadOptions, type DownloadResult } from "../lib/download-manager.js";
import type { AssetUploadResult } from "../lib/upload-result.js";
import { uploadAssets, waitForSession, type UploadOptions, type WaitOptions } from "../lib/upload-manager.js";
import { plainDatasetId } from "./datasets.js";
import type { Organizations } from "./organizations.js";

export interface ListAssetsOptions {
  datasetId: string;
  /** 1 to 1000. */
  pageSize?: number;
  /** Start from this page token instead of the first page. */
  pageToken?: string;
  sortBy?: { criterion: AssetSortCriterion; order?: SortOrder };
  /** An object (sent as JSON) or a JSON string, e.g. `{status: "error"}`. */
  filter?: Record<string, unknown> | string;
  /** An expression over custom metadata, e.g. `custom_field == "value"`. */
  metadataQuery?: string;
  /** Include signed URLs to the bytes and thumbnail. */
  contents?: boolean;
  strictQuery?: boolean;
  signal?: AbortSignal;
}

const flag = (value: boolean | undefined): "y" | undefined => (value ? "y" : undefined);

/** The query string of a list call, in the wire's short names. */
export function listQuery(
  options: Omit<ListAssetsOptions, "datasetId" | "signal">,
  pageToken: string | undefined,
): Record<string, string | undefined> {
  return {
    p: pageToken,
    s: options.pageSize === undefined ? undefined : String(options.pageSize),
    sortBy: options.sortBy?.criterion,
    o: options.sortBy?.order,
    filter:
      typeof options.filter === "string" || options.filter === undefined
        ? options.filter
        : JSON.stringify(options.filter),
    metadataQuery: options.metadataQuery,
    contents: flag(options.contents),
    strictQuery: flag(options.strictQuery),
  };
}

export class Assets {
  readonly #ctx: ClientContext;
  readonly #organizations: Organizations;

  constructor(ctx: ClientContext, organizations: Organizations) {
    this.#ctx = ctx;
    this.#organizations = organizations;
  }

  /**
   * Uploads a file, a folder (recursively) or a list of both, in ingestion sessions of up to
   * `batchSize` files. With `failureMode: "FailAfterOne"` (the default) any failed file raises
   * ViUploadError carrying the partial result; with `"FailAfterAll"` failures are in the result.
   */
  upload(options: UploadOptions): Promise<AssetUploadResult> {
    return uploadAssets(
      {
        http: this.#ctx.http,
        organizationId: this.#ctx.organizationId,
        getOrganization: (signal) => this.#organizations.get({ signal }),
      },
      { ...options, datasetId: this.#id(options.datasetId) },
    );
  }

  /** Long-polls one ingestion session until it has finished; ViTimeoutError after `timeout` ms (default 30 min). */
  waitUntilDone(options: WaitOptions): Promise<IngestionSession> {
    return waitForSession(this.#ctx.http, this.#ctx.organizationId, {
      ...options,
      datasetId: this.#id(options.datasetId),
    });
  }

  list(options: ListAssetsOptions): PagePromise<Asset> {
    const path = apiPaths.assets(this.#ctx.organizationId, this.#id(options.datasetId));
    return new PagePromise<Asset>(
      (pageToken) =>
        this.#ctx.http.json<Page<Asset>>({
          method: "GET",
          path,
          query: listQuery(options, pageToken),
          signal: options.signal,
        }),
      options.pageToken,
    );
  }

  get(options: { datasetId: string; assetId: string; contents?: boolean; signal?: AbortSignal }): Promise<Asset> {
    return this.#ctx.http.json<Asset>({
      method: "GET",
      path: apiPaths.asset(this.#ctx.organizationId, this.#id(options.datasetId), options.assetId),
      query: { contents: flag(options.contents) },
      signal: options.signal,
    });
  }

  /** Deletes one asset (and its annotations). The server answers an empty body. */
  async delete(options: {
    datasetId: string;
    assetId: string;
    signal?: AbortSignal;
  }): Promise<{ assetId: string; deleted: true }> {
    await this.#ctx.http.empty({
      method: "DELETE",
      path: apiPaths.asset(this.#ctx.organizationId, this.#id(options.datasetId), options.assetId),
      signal: options.signal,
    });
    return { assetId: options.assetId, deleted: true };
  }

  /** Downloads every asset of the dataset into `saveDir`, verifying each file's size and SHA-256. */
  download(options: DownloadOptions): Promise<DownloadResult> {
    const datasetId = this.#id(options.datasetId);
    return downloadAssets(
      {
        http: this.#ctx.http,
        pages: () => this.list({ datasetId, contents: true, pageSize: 1000, signal: options.signal }),
        refetch: (assetId, signal) => this.get({ datasetId, assetId, contents: true, signal }),
      },
      options,
    );
  }

  #id(datasetId: string): string {
    return plainDatasetId(this.#ctx.organizationId, datasetId);
  }
}
