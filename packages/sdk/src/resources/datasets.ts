import { apiPaths, type Dataset, type DeletedDataset } from "@vi/protocol";
import type { ClientContext } from "../client.js";
import { PagePromise, type Page } from "../core/pagination.js";

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

  #path(datasetId: string): string {
    const org = this.#ctx.organizationId;
    return apiPaths.dataset(org, plainDatasetId(org, datasetId));
  }
}
