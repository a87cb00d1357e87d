import { apiPaths, MAX_PAGE_SIZE, type Annotation } from "@vi/protocol";
import type { ClientContext } from "../client.js";
import { ViValidationError } from "../core/errors.js";
import { PagePromise, type Page } from "../core/pagination.js";
import { plainDatasetId } from "./datasets.js";

/** `[x0, y0, x1, y1]`: the top-left and bottom-right corners. */
export type BoundingBox = readonly [number, number, number, number];

export interface CreateAnnotationOptions {
  datasetId: string;
  assetId: string;
  /** The tag's name, e.g. `"car"`; the dataset gives it an id on first use. */
  tag: string;
  /**
   * A bounding box `[x0, y0, x1, y1]`: top-left and bottom-right, by the server's convention in
   * fractions of the image (the whole image is `[0, 0, 1, 1]`, the box given without this and
   * without `caption`).
   */
  bbox?: BoundingBox;
  /** A caption instead of a box. */
  caption?: string;
  signal?: AbortSignal;
}

export interface ListAnnotationsOptions {
  datasetId: string;
  assetId: string;
  /** 1 to 1000. */
  pageSize?: number;
  /** Start from this page token instead of the first page. */
  pageToken?: string;
  signal?: AbortSignal;
}

export interface AnnotationRef {
  datasetId: string;
  assetId: string;
  annotationId: string;
  signal?: AbortSignal;
}

/** The most characters a tag name may have. */
export const MAX_TAG_LENGTH = 255;
/** The most characters a caption may have. */
export const MAX_CAPTION_LENGTH = 10_000;

const invalid = (message: string, parameter: string) =>
  new ViValidationError(message, { code: "InvalidParameter", details: { parameter } });

type AnnotationContentsRequest =
  { bound: [[number, number], [number, number]] } | { kind: "Caption"; contents: string };

/** The request's `spec`, checked: a tag, and a box or a caption (or neither: the whole image). */
export function annotationSpec(options: Pick<CreateAnnotationOptions, "tag" | "bbox" | "caption">): {
  tag: string;
  contents?: AnnotationContentsRequest;
} {
  const { tag, bbox, caption } = options;
  if (typeof tag !== "string" || tag.trim() === "" || tag.length > MAX_TAG_LENGTH)
    throw invalid(`tag must be a name of 1 to ${MAX_TAG_LENGTH} characters, got ${JSON.stringify(tag)}`, "tag");
  if (bbox !== undefined && caption !== undefined) throw invalid("give a bbox or a caption, not both", "bbox");
  if (caption !== undefined) {
    if (typeof caption !== "string" || caption.length > MAX_CAPTION_LENGTH)
      throw invalid(`caption must be a string of at most ${MAX_CAPTION_LENGTH} characters`, "caption");
    return { tag, contents: { kind: "Caption", contents: caption } };
  }
  if (bbox === undefined) return { tag };
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((n) => typeof n === "number" && Number.isFinite(n)))
    throw invalid(`bbox must be four finite numbers [x0, y0, x1, y1], got ${JSON.stringify(bbox)}`, "bbox");
  const [x0, y0, x1, y1] = bbox;
  if (x0 > x1 || y0 > y1)
    throw invalid(`bbox [x0, y0, x1, y1] must have x0 <= x1 and y0 <= y1, got ${JSON.stringify(bbox)}`, "bbox");
  return {
    tag,
    contents: {
      bound: [
        [x0, y0],
        [x1, y1],
      ],
    },
  };
}

/** Annotations of an asset: a tag with a bounding box or a caption. */
export class Annotations {
  readonly #ctx: ClientContext;

  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
  }

  /**
   * Adds an annotation to an asset and answers it (201). It is counted in the asset's
   * `metadata.annotations` and the dataset's `statistic`, and selects the asset in `hasTag` filters.
   */
  async create(options: CreateAnnotationOptions): Promise<Annotation> {
    const spec = annotationSpec(options);
    return this.#ctx.http.json<Annotation>({
      method: "POST",
      path: apiPaths.annotations(this.#ctx.organizationId, this.#dataset(options.datasetId), options.assetId),
      body: { spec },
      signal: options.signal,
    });
  }

  /** A page of the asset's annotations (await it), or every page (`for await`). */
  list(options: ListAnnotationsOptions): PagePromise<Annotation> {
    const path = apiPaths.annotations(this.#ctx.organizationId, this.#dataset(options.datasetId), options.assetId);
    const { pageSize } = options;
    return new PagePromise<Annotation>((pageToken) => {
      if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE))
        throw invalid(`pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`, "pageSize");
      return this.#ctx.http.json<Page<Annotation>>({
        method: "GET",
        path,
        query: { pageToken, pageSize: pageSize === undefined ? undefined : String(pageSize) },
        signal: options.signal,
      });
    }, options.pageToken);
  }

  get(options: AnnotationRef): Promise<Annotation> {
    return this.#ctx.http.json<Annotation>({ method: "GET", path: this.#path(options), signal: options.signal });
  }

  /** Deletes one annotation. The server answers an empty body. */
  async delete(options: AnnotationRef): Promise<{ annotationId: string; deleted: true }> {
    await this.#ctx.http.empty({ method: "DELETE", path: this.#path(options), signal: options.signal });
    return { annotationId: options.annotationId, deleted: true };
  }

  #path(options: AnnotationRef): string {
    const org = this.#ctx.organizationId;
    return apiPaths.annotation(org, this.#dataset(options.datasetId), options.assetId, options.annotationId);
  }

  #dataset(datasetId: string): string {
    return plainDatasetId(this.#ctx.organizationId, datasetId);
  }
}
