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

  /**
   * Signed URLs to the asset's bytes (ending in its filename, as the Python client expects)
   * and, once processing made one, to its thumbnail. An asset without a thumbnail gets no
   * thumbnail URL at all, never one that fails.
   */
  contentsOf(asset: AssetRecord): AssetContents {
    const expiry = Date.now() + this.ctx.config.downloadUrlTtlSeconds * 1000;
    const signed = (path: string) => ({ url: this.ctx.signer.sign("download", path, expiry), expiry, method: "GET" });
    return {
      asset: signed(downloadPath(asset)),
      ...(asset.thumbnail ? { thumbnail: signed(thumbnailPath({ ...asset, thumbnail: asset.thumbnail })) } : {}),
    };
  }

  /** Resolves a signed thumbnail path to its bytes, if the asset still has that thumbnail. */
  async resolveThumbnail(params: DownloadParams): Promise<ServedBlob> {
    const asset = await this.ctx.metadata.getAsset(params.orgId, params.datasetId, params.assetId);
    if (!asset?.thumbnail || String(asset.thumbnail.generation) !== params.generation) {
      throw new ApiError(
        "ResourceNotFound",
        "This asset no longer has this thumbnail",
        "Get a fresh URL with contents=y.",
      );
    }
    return {
      orgId: asset.orgId,
      datasetId: asset.datasetId,
      assetId: asset.assetId,
      sha256: asset.thumbnail.sha256,
      fileSize: asset.thumbnail.size,
      mimeType: THUMBNAIL_MIME,
      filename: THUMBNAIL_NAME,
    };
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
  static thumbnailPath = thumbnailPath;
}

export interface SignedContents {
  url: string;
  expiry: number;
  method: string;
}

export interface AssetContents {
  asset: SignedContents;
  thumbnail?: SignedContents;
}

/** Stored bytes as a download serves them: what they are, and what to call them. */
export interface ServedBlob {
  orgId: string;
  datasetId: string;
  assetId: string;
  sha256: string;
  fileSize: number;
  mimeType: string;
  filename: string;
}

/** Thumbnails are WebP (see ProcessingService); the name is what a browser saves them as. */
const THUMBNAIL_MIME = "image/webp";
const THUMBNAIL_NAME = "thumbnail.webp";

/** The signed path of an asset's thumbnail; its generation changes with every new thumbnail. */
function thumbnailPath(a: { orgId: string; datasetId: string; assetId: string; thumbnail: { generation: number } }) {
  const e = encodeURIComponent;
  return `/thumbnails/${e(a.orgId)}/${e(a.datasetId)}/${e(a.assetId)}/${a.thumbnail.generation}/${THUMBNAIL_NAME}`;
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
  // The value must be of the sort column's type: PostgreSQL refuses a string (or a fraction)
  // compared with an integer column, where SQLite compared anything with anything.
  const byText = sortKey === "assetId" || sortKey === "filename";
  const valueOk = byText ? typeof body.v === "string" : Number.isSafeInteger(body.v);
  if (!valueOk || !Number.isSafeInteger(body.s)) throw invalid("The page token is malformed", { parameter: "p" });
  return { value: body.v!, seq: body.s! };
}
