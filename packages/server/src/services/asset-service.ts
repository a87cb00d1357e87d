import type { AssetSortCriterion } from "@vi/protocol";
import { DEFAULT_PAGE_SIZE } from "@vi/protocol";
import { ApiError, invalid, notFound } from "../errors.js";
import type {
  AssetCursor,
  AssetSelection,
  AssetSortKey,
  CustomMetadataUpdate,
} from "../store/metadata/metadata-store.js";
import { QueryError, selection as buildSelection } from "../query/index.js";
import { checkCustomMetadata } from "./custom-metadata.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import type { AssetRecord } from "../store/metadata/records.js";
import { basename } from "../util/filenames.js";
import type { ServiceContext } from "./context.js";
import type { BlobReleaser } from "./blob-releaser.js";
import type { DatasetService } from "./dataset-service.js";

const SORT_KEYS: Record<AssetSortCriterion, AssetSortKey> = {
  default: "seq",
  assetId: "assetId",
  filename: "filename",
  "lastModified.contents": "contentsUpdatedAt",
  "metadata.fileSize": "fileSize",
  "metadata.width": "width",
  "metadata.height": "height",
  "metadata.timeCreated": "createdAt",
};

export interface AssetListRequest {
  pageToken?: string;
  pageSize?: number;
  sortBy?: AssetSortCriterion;
  order?: "asc" | "desc" | "a" | "d";
  filter?: string;
  metadataQuery?: string;
  strictQuery?: boolean;
  ruleQuery?: string;
  /** Count a filtered selection too (unfiltered listings always carry their total). */
  count?: boolean;
}

/** What to select: the listing's filter and query, as the wire carries them. */
export interface SelectionInput {
  filter?: string | Record<string, unknown> | null;
  metadataQuery?: string | null;
  ruleQuery?: string | null;
  strictQuery?: boolean | null;
}

export interface AssetPage {
  assets: AssetRecord[];
  nextPage: string | null;
  /** Absent for a filtered page unless its count was asked for. */
  totalCount?: number;
}

interface TokenBody {
  k: AssetSortKey;
  d: boolean;
  v: string | number;
  s: number;
}

export class AssetService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly datasets: DatasetService,
    private readonly releaser: BlobReleaser,
  ) {}

  async list(orgId: string, datasetId: string, req: AssetListRequest): Promise<AssetPage> {
    await this.datasets.require(orgId, datasetId);
    const sortKey = SORT_KEYS[req.sortBy ?? "default"];
    const descending = req.order === "desc" || req.order === "d";
    const selection = this.selection(req);
    const after = req.pageToken ? decodeToken(req.pageToken, sortKey, descending) : undefined;
    const limit = req.pageSize ?? DEFAULT_PAGE_SIZE;
    // One row past the page tells whether another page follows, without a count.
    const rows = await this.ctx.metadata.listAssets({
      orgId,
      datasetId,
      sortKey,
      descending,
      limit: limit + 1,
      ...(after ? { after } : {}),
      ...(selection ? { selection } : {}),
    });
    const assets = rows.slice(0, limit);
    const last = assets[assets.length - 1];
    const nextPage =
      rows.length > limit && last
        ? encodePageToken({ k: sortKey, d: descending, v: sortValue(last, sortKey), s: last.seq })
        : null;
    // The unfiltered total is a counter; a selection is counted only on request (it scans it).
    const totalCount =
      !selection || req.count ? await this.ctx.metadata.countAssets(orgId, datasetId, selection) : undefined;
    return { assets, nextPage, ...(totalCount !== undefined ? { totalCount } : {}) };
  }

  /**
   * One selection from `filter` and `metadataQuery` (and together); undefined when neither
   * selects anything. A malformed one is a 400 that says what and where, never a match-all.
   */
  selection(input: SelectionInput): AssetSelection | undefined {
    if (input.ruleQuery !== undefined && input.ruleQuery !== null && input.ruleQuery.trim() !== "") {
      throw invalid("ruleQuery is not supported by this server", { parameter: "ruleQuery" }, "Use metadataQuery.");
    }
    try {
      const expr = buildSelection({ filter: input.filter ?? null, metadataQuery: input.metadataQuery ?? null });
      return expr ? { expr, strict: input.strictQuery === true } : undefined;
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      const details: Record<string, unknown> = { parameter: err.parameter };
      if (err.position !== undefined) details.position = err.position;
      if (err.expected !== undefined) details.expected = err.expected;
      if (err.field !== undefined) details.field = err.field;
      throw new ApiError("InvalidParameter", err.message, "See docs/query-language.md for the syntax.", details);
    }
  }

  /**
   * Changes custom metadata of one or many assets of a dataset, all or none. Each change is a
   * merge patch (null removes a key) or, with `replace`, the whole new object.
   */
  async update(orgId: string, datasetId: string, updates: CustomMetadataUpdate[]): Promise<AssetRecord[]> {
    await this.datasets.require(orgId, datasetId);
    for (const u of updates) {
      if (u.replace && Object.values(u.patch).some((v) => v === null)) {
        throw invalid(
          `asset '${u.assetId}': null removes a key in a merge patch, and has no meaning with replaceCustomMetadata`,
          { field: "customMetadata", assetId: u.assetId },
        );
      }
    }
    const result = await this.ctx.metadata.updateCustomMetadata(orgId, datasetId, updates, (assetId, merged) =>
      checkCustomMetadata(merged, `asset '${assetId}'`),
    );
    if ("missing" in result) throw notFound("Asset", result.missing);
    return result.assets;
  }

  async get(orgId: string, datasetId: string, assetId: string): Promise<AssetRecord> {
    const asset = await this.ctx.metadata.getAsset(orgId, datasetId, assetId);
    if (!asset) {
      await this.datasets.require(orgId, datasetId);
      throw notFound("Asset", assetId);
    }
    return asset;
  }

  async delete(orgId: string, datasetId: string, assetId: string): Promise<void> {
    const result = await this.ctx.metadata.deleteAsset(orgId, datasetId, assetId);
    if (!result) {
      await this.datasets.require(orgId, datasetId);
      throw notFound("Asset", assetId);
    }
    await this.releaser.release(result.orphanedBlobs);
  }

  /** A signed URL to the asset's bytes that ends in its filename, as the Python client expects. */
  contentsOf(asset: AssetRecord): { url: string; expiry: number; method: "GET" } {
    const expiry = Date.now() + this.ctx.config.downloadUrlTtlSeconds * 1000;
    const path = downloadPath(asset);
    return { url: this.ctx.signer.sign("download", path, expiry), expiry, method: "GET" };
  }

  /** Resolves a signed download path to the asset it names, if that asset still has those bytes. */
  async resolveDownload(params: DownloadParams): Promise<AssetRecord> {
    const asset = await this.ctx.metadata.getAsset(params.orgId, params.datasetId, params.assetId);
    if (!asset || String(asset.generation) !== params.generation) {
      throw new ApiError(
        "ResourceNotFound",
        "This asset no longer has these contents",
        "Get a fresh URL with contents=y.",
      );
    }
    return asset;
  }

  /** Shared by routes and tests: the signed path of an asset's bytes. */
  static downloadPath = downloadPath;
}

export interface DownloadParams {
  orgId: string;
  datasetId: string;
  assetId: string;
  generation: string;
}

/** The signed path of an asset's bytes; it ends in the filename's last segment. */
function downloadPath(a: {
  orgId: string;
  datasetId: string;
  assetId: string;
  generation: number;
  filename: string;
}): string {
  const e = encodeURIComponent;
  return `/files/${e(a.orgId)}/${e(a.datasetId)}/${e(a.assetId)}/${a.generation}/${e(basename(a.filename))}`;
}

function sortValue(a: AssetRecord, key: AssetSortKey): string | number {
  switch (key) {
    case "seq":
      return a.seq;
    case "assetId":
      return a.assetId;
    case "filename":
      return a.filename;
    case "contentsUpdatedAt":
      return a.contentsUpdatedAt;
    case "fileSize":
      return a.fileSize;
    case "width":
      return a.width;
    case "height":
      return a.height;
    case "createdAt":
      return a.createdAt;
  }
}

function decodeToken(token: string, sortKey: AssetSortKey, descending: boolean): AssetCursor {
  const body = decodePageToken(token, "p") as Partial<TokenBody>;
  if (body.k !== sortKey || body.d !== descending) {
    throw invalid(
      "The page token belongs to a listing with another sort order",
      { parameter: "p" },
      "Keep sortBy and o the same while paging.",
    );
  }
  const valueOk = typeof body.v === "number" ? Number.isFinite(body.v) : typeof body.v === "string";
  if (!valueOk || !Number.isSafeInteger(body.s)) throw invalid("The page token is malformed", { parameter: "p" });
  return { value: body.v!, seq: body.s! };
}
