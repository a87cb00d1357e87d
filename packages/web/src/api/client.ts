import {
  apiPaths,
  type Annotation,
  type Asset,
  type AssetSortCriterion,
  type BulkAssetDeletionSession,
  type BulkDeleteSpec,
  type CustomMetadata,
  type Dataset,
  type DeletedDataset,
  type IngestionSession,
  type IngestionSpec,
  type Organization,
  type PageOf,
  type SortOrder,
} from "@vi/protocol";
import type { Credentials } from "./credentials.js";
import { ApiError } from "./errors.js";

/**
 * The gallery's client of the Vi API: a small typed layer over fetch, on the same paths and
 * types as the SDK (`@vi/protocol`). The SDK itself is not used in the browser: it reads files
 * and streams with node:fs, node:stream and node:crypto.
 */
export interface AssetQuery {
  metadataQuery?: string;
  filter?: Record<string, unknown>;
  sortBy?: AssetSortCriterion;
  order?: SortOrder;
}

export class ViApi {
  constructor(readonly credentials: Credentials) {}

  private get org(): string {
    return this.credentials.organizationId;
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.credentials.secretKey}`,
      "organization-id": this.credentials.organizationId,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
      credentials: "omit",
      cache: "no-store",
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw new ApiError(res.status, parsed as never, `${method} ${path} answered ${res.status}`);
    return parsed as T;
  }

  organization(): Promise<Organization> {
    return this.request("GET", apiPaths.organization(this.org));
  }

  async datasets(): Promise<Dataset[]> {
    return (await this.request<PageOf<Dataset>>("GET", apiPaths.datasets(this.org))).items;
  }

  createDataset(name: string, description?: string): Promise<Dataset> {
    return this.request("POST", apiPaths.datasets(this.org), { name, ...(description ? { description } : {}) });
  }

  dataset(datasetId: string): Promise<Dataset> {
    return this.request("GET", apiPaths.dataset(this.org, datasetId));
  }

  deleteDataset(datasetId: string): Promise<DeletedDataset> {
    return this.request("DELETE", apiPaths.dataset(this.org, datasetId));
  }

  /** One keyset page of assets, with signed thumbnail and file URLs. */
  listAssets(
    datasetId: string,
    query: AssetQuery,
    page: { token?: string | undefined; size: number; count?: boolean },
    signal?: AbortSignal,
  ): Promise<PageOf<Asset>> {
    const params = new URLSearchParams({ s: String(page.size), contents: "y" });
    if (page.token) params.set("p", page.token);
    if (page.count) params.set("count", "y");
    if (query.sortBy) params.set("sortBy", query.sortBy);
    if (query.order) params.set("o", query.order);
    if (query.metadataQuery?.trim()) params.set("metadataQuery", query.metadataQuery);
    if (query.filter && Object.keys(query.filter).length > 0) params.set("filter", JSON.stringify(query.filter));
    return this.request("GET", `${apiPaths.assets(this.org, datasetId)}?${params}`, undefined, signal);
  }

  asset(datasetId: string, assetId: string): Promise<Asset> {
    return this.request("GET", `${apiPaths.asset(this.org, datasetId, assetId)}?contents=y`);
  }

  /** A merge patch of custom metadata: a value sets its key, null removes it. */
  updateCustomMetadata(
    datasetId: string,
    assetId: string,
    patch: Record<string, CustomMetadata[string] | null>,
  ): Promise<Asset> {
    return this.request("PATCH", apiPaths.asset(this.org, datasetId, assetId), { customMetadata: patch });
  }

  async annotations(datasetId: string, assetId: string): Promise<Annotation[]> {
    const path = `${apiPaths.annotations(this.org, datasetId, assetId)}?pageSize=1000`;
    return (await this.request<PageOf<Annotation>>("GET", path)).items;
  }

  bulkDelete(datasetId: string, spec: BulkDeleteSpec): Promise<BulkAssetDeletionSession> {
    return this.request("POST", apiPaths.deleteManyAssetsSessions(this.org, datasetId), { spec });
  }

  bulkDeleteStatus(datasetId: string, sessionId: string, waitSeconds: number): Promise<BulkAssetDeletionSession> {
    const path = apiPaths.deleteManyAssetsSession(this.org, datasetId, sessionId);
    return this.request("GET", `${path}?waitFor=Finished&timeout=${waitSeconds}`);
  }

  openIngestionSession(datasetId: string, spec: IngestionSpec): Promise<IngestionSession> {
    return this.request("POST", apiPaths.ingestionSessions(this.org, datasetId), { spec });
  }

  ingestionStatus(datasetId: string, sessionId: string, waitSeconds = 0): Promise<IngestionSession> {
    const path = apiPaths.ingestionSession(this.org, datasetId, sessionId);
    return this.request("GET", waitSeconds > 0 ? `${path}?waitFor=Finished&timeout=${waitSeconds}` : path);
  }
}
