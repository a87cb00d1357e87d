import {
  apiPaths,
  type BulkAssetDeletionSession,
  type Dataset,
  type DeletedDataset,
  type ReprocessResult,
} from "@vi/protocol";
import type { ClientContext } from "../client.js";
import { ViBulkDeleteError, ViTimeoutError, ViValidationError } from "../core/errors.js";
import { PagePromise, type Page } from "../core/pagination.js";
import { sleep } from "../core/retry.js";
import { filterSelects, filterText, queryText, type AssetSelection } from "../lib/selection.js";

/**
 * Accepts a dataset's own id or the composite `{orgId}_{datasetId}` that assets carry in
 * `datasetId`, so that `asset.datasetId` can be passed back as it is. Ids never contain `_`.
 */
export function plainDatasetId(organizationId: string, datasetId: string): string {
  const prefix = `${organizationId}_`;
  return datasetId.startsWith(prefix) ? datasetId.slice(prefix.length) : datasetId;
}

export interface CreateDatasetOptions {
  name: string;
  description?: string;
  /** The dataset type, e.g. `"phrase-grounding"` or `"vqa"` (the two the Python client decodes). */
  type?: string;
  signal?: AbortSignal;
}

export interface BulkDeleteAssetsOptions extends AssetSelection {
  datasetId: string;
  /** Count what would go and delete nothing: the session is finished at once, `status.selected` is the count. */
  dryRun?: boolean;
  /** Long-poll until the session has finished (default true); ViBulkDeleteError if it failed. */
  waitUntilDone?: boolean;
  /** Milliseconds to wait in all (default 30 minutes), then ViTimeoutError. */
  timeout?: number;
  signal?: AbortSignal;
}

export interface BulkDeleteSessionOptions {
  datasetId: string;
  deleteManyAssetsSessionId: string;
  signal?: AbortSignal;
}

export interface WaitForBulkDeleteOptions extends BulkDeleteSessionOptions {
  /** Milliseconds to wait in all (default 30 minutes), then ViTimeoutError. */
  timeout?: number;
}

export const DEFAULT_BULK_DELETE_TIMEOUT_MS = 30 * 60_000;
/** One long-poll of a bulk delete asks the server to hold the answer this long (it allows up to 300 s). */
const BULK_DELETE_POLL_SECONDS = 30;

/** The `Finished` condition's status of a bulk delete, if reported. */
export function bulkDeleteFinished(session: BulkAssetDeletionSession): string | undefined {
  return session.status?.conditions?.find((c) => c.condition === "Finished")?.status;
}

const isDone = (session: BulkAssetDeletionSession): boolean => {
  const status = bulkDeleteFinished(session);
  return status === "Reached" || status === "FailedReach";
};

function failedError(session: BulkAssetDeletionSession): ViBulkDeleteError {
  const finished = session.status.conditions.find((c) => c.condition === "Finished");
  const why = finished?.message ?? finished?.reason ?? "the server gave no reason";
  return new ViBulkDeleteError(
    `bulk delete ${session.deleteManyAssetsSessionId} failed: ${why} (${session.status.deleted} of ${session.status.selected} selected assets deleted)`,
    {
      code: "BulkDeleteFailed",
      session,
      details: { selected: session.status.selected, deleted: session.status.deleted },
    },
  );
}

export class Datasets {
  readonly #ctx: ClientContext;

  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
  }

  create(options: CreateDatasetOptions): Promise<Dataset> {
    // Protocol's CreateDatasetRequest is not used: TypeBox types its array-built `type` union as undefined.
    const body: { name: string; description?: string; type?: string } = { name: options.name };
    if (options.description !== undefined) body.description = options.description;
    if (options.type !== undefined) body.type = options.type;
    return this.#ctx.http.json<Dataset>({
      method: "POST",
      path: apiPaths.datasets(this.#ctx.organizationId),
      body,
      signal: options.signal,
    });
  }

  list(options: { signal?: AbortSignal } = {}): PagePromise<Dataset> {
    return new PagePromise<Dataset>((pageToken) =>
      this.#ctx.http.json<Page<Dataset>>({
        method: "GET",
        path: apiPaths.datasets(this.#ctx.organizationId),
        query: { p: pageToken },
        signal: options.signal,
      }),
    );
  }

  get(options: { datasetId: string; signal?: AbortSignal }): Promise<Dataset> {
    return this.#ctx.http.json<Dataset>({ method: "GET", path: this.#path(options.datasetId), signal: options.signal });
  }

  /** Deletes the dataset with its assets and their bytes. */
  delete(options: { datasetId: string; signal?: AbortSignal }): Promise<DeletedDataset> {
    return this.#ctx.http.json<DeletedDataset>({
      method: "DELETE",
      path: this.#path(options.datasetId),
      signal: options.signal,
    });
  }

  /**
   * Deletes the assets of the dataset that `filter` and/or `metadataQuery` select, in a
   * server-side session (the Python client's `bulk_delete_assets`). One of them must select
   * something: without both (or with an empty filter) it is refused before any request
   * (ViValidationError); to delete every asset, delete the dataset. With `dryRun` nothing is
   * deleted and `status.selected` is how many would be. By default it waits until the session
   * has finished and raises ViBulkDeleteError if it ended `FailedReach`.
   */
  async bulkDeleteAssets(options: BulkDeleteAssetsOptions): Promise<BulkAssetDeletionSession> {
    const query = queryText(options.metadataQuery);
    const selects = filterSelects(options.filter);
    if (!selects && query === undefined) {
      throw new ViValidationError(
        "bulkDeleteAssets needs a filter or a metadataQuery that selects assets: without one it would select the whole dataset (to delete every asset, delete the dataset)",
        { code: "MissingRequiredField", details: { parameter: "filter" } },
      );
    }
    if (options.timeout !== undefined && !(options.timeout >= 0))
      throw new ViValidationError(`timeout must be milliseconds >= 0, got ${options.timeout}`, {
        code: "InvalidParameter",
      });
    const org = this.#ctx.organizationId;
    const datasetId = plainDatasetId(org, options.datasetId);
    const spec = {
      filter: selects ? (typeof options.filter === "string" ? filterText(options.filter) : options.filter) : null,
      metadataQuery: query ?? null,
      ruleQuery: null,
      strictQuery: options.strictQuery ?? null,
      ...(options.dryRun ? { dryRun: true } : {}),
    };
    const session = await this.#ctx.http.json<BulkAssetDeletionSession>({
      method: "POST",
      path: apiPaths.deleteManyAssetsSessions(org, datasetId),
      body: { spec },
      signal: options.signal,
    });
    if (options.waitUntilDone === false) return session;
    return this.#waitFor(datasetId, session, options.timeout, options.signal);
  }

  /**
   * [ext] Queues the dataset's assets for processing again (decode, thumbnail, status), for
   * example after a server upgrade changed its decoders: by default only the assets an older
   * build processed, with `all` every asset. Idempotent: an asset already queued stays queued
   * once. Answers at once; `assets.list({filter: {uploadStatus: "processing"}})` shows what is left.
   */
  reprocess(options: { datasetId: string; all?: boolean; signal?: AbortSignal }): Promise<ReprocessResult> {
    const org = this.#ctx.organizationId;
    return this.#ctx.http.json<ReprocessResult>({
      method: "POST",
      path: apiPaths.reprocess(org, plainDatasetId(org, options.datasetId)),
      body: options.all ? { all: true } : {},
      signal: options.signal,
    });
  }

  /** A bulk delete session as it is now. */
  getBulkDelete(options: BulkDeleteSessionOptions): Promise<BulkAssetDeletionSession> {
    const org = this.#ctx.organizationId;
    return this.#ctx.http.json<BulkAssetDeletionSession>({
      method: "GET",
      path: apiPaths.deleteManyAssetsSession(
        org,
        plainDatasetId(org, options.datasetId),
        options.deleteManyAssetsSessionId,
      ),
      signal: options.signal,
    });
  }

  /** Long-polls a bulk delete until it has finished; ViBulkDeleteError if it failed, ViTimeoutError after `timeout`. */
  async waitForBulkDelete(options: WaitForBulkDeleteOptions): Promise<BulkAssetDeletionSession> {
    const datasetId = plainDatasetId(this.#ctx.organizationId, options.datasetId);
    const session = await this.getBulkDelete(options);
    return this.#waitFor(datasetId, session, options.timeout, options.signal);
  }

  async #waitFor(
    datasetId: string,
    first: BulkAssetDeletionSession,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<BulkAssetDeletionSession> {
    const { http, organizationId } = this.#ctx;
    const limit = timeout ?? DEFAULT_BULK_DELETE_TIMEOUT_MS;
    const deadline = Date.now() + limit;
    const path = apiPaths.deleteManyAssetsSession(organizationId, datasetId, first.deleteManyAssetsSessionId);
    let session = first;
    let pause = 250;
    while (!isDone(session)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new ViTimeoutError(
          `bulk delete ${session.deleteManyAssetsSessionId} did not finish within ${limit} ms (${session.status?.deleted ?? 0} of ${session.status?.selected ?? "?"} deleted so far)`,
          { code: "Timeout", details: { session } },
        );
      }
      const seconds = Math.max(0, Math.min(BULK_DELETE_POLL_SECONDS, Math.floor(remaining / 1000)));
      const asked = Date.now();
      session = await http.json<BulkAssetDeletionSession>({
        method: "GET",
        path,
        query: { waitFor: "Finished", timeout: String(seconds) },
        signal,
        // The server holds the answer up to `seconds`; the request timeout must outlast it.
        timeout: seconds * 1000 + http.timeout,
      });
      // A server that answers at once (no long-poll) is asked again at a slowly growing interval.
      if (!isDone(session) && Date.now() - asked < 1000) {
        await sleep(Math.min(pause, Math.max(0, deadline - Date.now())), signal);
        pause = Math.min(pause * 2, 5000);
      }
    }
    if (bulkDeleteFinished(session) === "FailedReach") throw failedError(session);
    return session;
  }

  #path(datasetId: string): string {
    const org = this.#ctx.organizationId;
    return apiPaths.dataset(org, plainDatasetId(org, datasetId));
  }
}
