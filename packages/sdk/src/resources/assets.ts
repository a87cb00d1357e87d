import {
  apiPaths,
  MAX_PAGE_SIZE,
  SORT_CRITERIA,
  type Asset,
  type AssetSortCriterion,
  type IngestionSession,
  type SortOrder,
} from "@vi/protocol";
import type { ClientContext } from "../client.js";
import { ViError, ViValidationError, type ViErrorOptions } from "../core/errors.js";
import { PagePromise, type Page } from "../core/pagination.js";
import { checkCustomMetadata, type CustomMetadataPatch } from "../lib/custom-metadata.js";
import { downloadAssets, type DownloadOptions, type DownloadResult } from "../lib/download-manager.js";
import { filterText, queryText, type AssetSelection } from "../lib/selection.js";
import type { AssetUploadResult } from "../lib/upload-result.js";
import { uploadAssets, waitForSession, type UploadOptions, type WaitOptions } from "../lib/upload-manager.js";
import { plainDatasetId } from "./datasets.js";
import type { Organizations } from "./organizations.js";

export interface ListAssetsOptions extends AssetSelection {
  datasetId: string;
  /** 1 to 1000 (the server's default is 100). */
  pageSize?: number;
  /** Start from this page token instead of the first page. */
  pageToken?: string;
  /** Sort criterion and order (default ascending); every page of the listing keeps it. */
  sortBy?: { criterion: AssetSortCriterion; order?: SortOrder };
  /** Include signed URLs to the bytes and thumbnail. */
  contents?: boolean;
  /**
   * [ext] Have each page carry `totalCount`, the exact size of the selection, also when filtered
   * (an unfiltered page always carries it).
   */
  count?: boolean;
  signal?: AbortSignal;
}

export interface CountAssetsOptions extends AssetSelection {
  datasetId: string;
  signal?: AbortSignal;
}

export interface UpdateAssetOptions {
  datasetId: string;
  assetId: string;
  /** A merge patch: a value sets its key, `null` removes it; keys not named are kept. */
  customMetadata: CustomMetadataPatch;
  /** Replace all custom metadata with `customMetadata` instead of merging (no nulls then). */
  replace?: boolean;
  signal?: AbortSignal;
}

/** One asset's change in `updateMany`. */
export interface AssetMetadataUpdate {
  assetId: string;
  customMetadata: CustomMetadataPatch;
  replace?: boolean;
}

export interface UpdateManyAssetsOptions {
  datasetId: string;
  updates: readonly AssetMetadataUpdate[];
  signal?: AbortSignal;
}

/** The most updates the server takes in one request (all of them apply, or none). */
export const MAX_UPDATES_PER_REQUEST = 1000;

const flag = (value: boolean | undefined): "y" | undefined => (value ? "y" : undefined);

const invalid = (message: string, details?: Record<string, unknown>) =>
  new ViValidationError(message, { code: "InvalidParameter", details });

/** Refuses list options the server would refuse, before any request. */
export function checkListOptions(options: Omit<ListAssetsOptions, "datasetId" | "signal">): void {
  const { pageSize, sortBy } = options;
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE)) {
    throw invalid(`pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`, {
      parameter: "pageSize",
    });
  }
  if (sortBy !== undefined) {
    if (!(SORT_CRITERIA as readonly string[]).includes(sortBy.criterion)) {
      throw invalid(`sortBy.criterion must be one of ${SORT_CRITERIA.join(", ")}, got ${String(sortBy.criterion)}`, {
        parameter: "sortBy",
      });
    }
    if (sortBy.order !== undefined && sortBy.order !== "asc" && sortBy.order !== "desc") {
      throw invalid(`sortBy.order must be "asc" or "desc", got ${String(sortBy.order)}`, { parameter: "o" });
    }
  }
}

/**
 * The query string of a list call, in the wire's short names. Every page is asked with the same
 * filter, query and sort: the token says where to resume, not what was asked.
 */
export function listQuery(
  options: Omit<ListAssetsOptions, "datasetId" | "signal">,
  pageToken: string | undefined,
): Record<string, string | undefined> {
  return {
    p: pageToken,
    s: options.pageSize === undefined ? undefined : String(options.pageSize),
    sortBy: options.sortBy?.criterion,
    o: options.sortBy?.order,
    filter: filterText(options.filter),
    metadataQuery: queryText(options.metadataQuery),
    contents: flag(options.contents),
    strictQuery: flag(options.strictQuery),
    count: flag(options.count),
  };
}

/** The same error with a note on what was done before it (updateMany's earlier chunks). */
function withNote(error: unknown, note: string, details: Record<string, unknown>): unknown {
  if (!(error instanceof ViError)) return error;
  const Class = error.constructor as new (message: string, options: ViErrorOptions) => ViError;
  return new Class(`${error.message} (${note})`, {
    code: error.code,
    status: error.status,
    suggestion: error.suggestion,
    requestId: error.requestId,
    details: { ...error.details, ...details },
    cause: error,
  });
}

/** The PATCH body of one update, checked (a merge takes nulls; a replacement takes none). */
function updateBody(
  customMetadata: unknown,
  replace: boolean | undefined,
  where: string,
): { customMetadata: CustomMetadataPatch; replaceCustomMetadata?: boolean } {
  checkCustomMetadata(customMetadata, { where, allowNull: !replace, countKeys: Boolean(replace) });
  return replace ? { customMetadata, replaceCustomMetadata: true } : { customMetadata };
}

const checkAssetId = (assetId: unknown, where: string): void => {
  if (typeof assetId !== "string" || assetId === "")
    throw invalid(`${where} must be an asset id, got ${String(assetId)}`);
};

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

  /**
   * A page of the dataset's assets (await it), or every page (`for await`), with the filter,
   * query and sort on every page. Bad options reject before any request (ViValidationError).
   */
  list(options: ListAssetsOptions): PagePromise<Asset> {
    const path = apiPaths.assets(this.#ctx.organizationId, this.#id(options.datasetId));
    return new PagePromise<Asset>((pageToken) => {
      checkListOptions(options);
      return this.#ctx.http.json<Page<Asset>>({
        method: "GET",
        path,
        query: listQuery(options, pageToken),
        signal: options.signal,
      });
    }, options.pageToken);
  }

  /**
   * [ext] How many assets the selection holds (the whole dataset without filter and query): the
   * `totalCount` of a one-item page asked with `count=y`. A server that does not send it is
   * counted page by page instead.
   */
  async count(options: CountAssetsOptions): Promise<number> {
    const { datasetId, filter, metadataQuery, strictQuery, signal } = options;
    const selection = { datasetId, filter, metadataQuery, strictQuery, signal };
    const first = await this.list({ ...selection, pageSize: 1, count: true });
    if (typeof first.totalCount === "number") return first.totalCount;
    let total = 0;
    for await (const page of this.list({ ...selection, pageSize: MAX_PAGE_SIZE })) total += page.items.length;
    return total;
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

  /**
   * [ext] Changes one asset's custom metadata and answers the asset. A merge by default: a value
   * sets its key, `null` removes it, other keys stay; `replace: true` makes `customMetadata` the
   * whole of it. Values are checked as upload checks them (string, finite number, boolean; null
   * only in a merge) and keep their JSON type.
   */
  async update(options: UpdateAssetOptions): Promise<Asset> {
    checkAssetId(options.assetId, "assetId");
    const body = updateBody(options.customMetadata, options.replace, "customMetadata");
    return this.#ctx.http.json<Asset>({
      method: "PATCH",
      path: apiPaths.asset(this.#ctx.organizationId, this.#id(options.datasetId), options.assetId),
      body,
      signal: options.signal,
    });
  }

  /**
   * [ext] Changes the custom metadata of many assets (each update as in `update`) and answers
   * the assets in the order of `updates`. They are sent in requests of up to 1000: each request
   * applies all of its updates or none (an unknown asset id refuses it with ViNotFoundError), so
   * atomicity is per chunk of 1000. When a later chunk fails, the error says how many updates
   * the earlier chunks applied (`details.applied`). Everything is checked before the first request.
   */
  async updateMany(options: UpdateManyAssetsOptions): Promise<Asset[]> {
    if (!Array.isArray(options.updates))
      throw invalid("updates must be an array of {assetId, customMetadata, replace?}");
    const bodies = options.updates.map((update, i) => {
      const where = `updates[${i}]`;
      if (typeof update !== "object" || update === null)
        throw invalid(`${where} must be {assetId, customMetadata, replace?}`);
      checkAssetId(update.assetId, `${where}.assetId`);
      return {
        assetId: update.assetId,
        ...updateBody(update.customMetadata, update.replace, `${where}.customMetadata`),
      };
    });
    const path = apiPaths.assets(this.#ctx.organizationId, this.#id(options.datasetId));
    const out: Asset[] = [];
    for (let start = 0; start < bodies.length; start += MAX_UPDATES_PER_REQUEST) {
      const chunk = bodies.slice(start, start + MAX_UPDATES_PER_REQUEST);
      try {
        const answer = await this.#ctx.http.json<{ items: Asset[] }>({
          method: "PATCH",
          path,
          body: { updates: chunk },
          signal: options.signal,
        });
        out.push(...answer.items);
      } catch (error) {
        if (start === 0) throw error;
        throw withNote(
          error,
          `updates ${start}..${start + chunk.length - 1} were refused; the ${start} before them were applied`,
          { applied: start },
        );
      }
    }
    return out;
  }

  /**
   * Downloads the dataset's assets into `saveDir`, verifying each file's size and SHA-256 before
   * it is renamed into place: every asset, or with `filter` / `metadataQuery` only the selection
   * (the server selects; nothing else is listed). Files already there are checked (size, then
   * SHA-256 from the digest cache or read once) and kept; a large file's `.part` left by an
   * interrupted run is continued with a byte range; expired URLs are renewed.
   */
  download(options: DownloadOptions): Promise<DownloadResult> {
    const datasetId = this.#id(options.datasetId);
    const { filter, metadataQuery, strictQuery } = options;
    return downloadAssets(
      {
        http: this.#ctx.http,
        pages: (signal) =>
          this.list({
            datasetId,
            filter,
            metadataQuery,
            strictQuery,
            contents: true,
            pageSize: MAX_PAGE_SIZE,
            signal,
          }),
        refetch: (assetId, signal) => this.get({ datasetId, assetId, contents: true, signal }),
      },
      options,
    );
  }

  #id(datasetId: string): string {
    return plainDatasetId(this.#ctx.organizationId, datasetId);
  }
}
