import type { CreateAnnotationRequest } from "@vi/protocol";
import { invalid, notFound } from "../errors.js";
import type { AnnotationContentsRecord, AnnotationRecord } from "../store/metadata/records.js";
import { newId } from "../util/ids.js";
import type { AssetService } from "./asset-service.js";
import type { ServiceContext } from "./context.js";
import { decodePageToken, encodePageToken } from "./page-token.js";

const DEFAULT_ANNOTATION_PAGE = 10;

/**
 * The minimum of annotations that assets need: a tag and a bounding box or caption, counted by
 * their asset (`metadata.annotations`) and dataset (`statistic`), filterable and queryable.
 */
export class AnnotationService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly assets: AssetService,
  ) {}

  async create(
    orgId: string,
    datasetId: string,
    assetId: string,
    spec: CreateAnnotationRequest["spec"],
  ): Promise<AnnotationRecord> {
    const tag = spec.tag.trim();
    if (tag === "") throw invalid("An annotation needs a non-blank tag", { field: "spec.tag" });
    const t = Date.now();
    const created = await this.ctx.metadata.createAnnotation({
      annotationId: newId(),
      orgId,
      datasetId,
      assetId,
      tag,
      contents: contentsOf(spec.contents),
      createdAt: t,
      updatedAt: t,
    });
    if (!created) return this.missingAsset(orgId, datasetId, assetId);
    return created;
  }

  async list(
    orgId: string,
    datasetId: string,
    assetId: string,
    page: { pageToken?: string; pageSize?: number },
  ): Promise<{ items: AnnotationRecord[]; nextPage: string | null }> {
    await this.assets.get(orgId, datasetId, assetId);
    const limit = page.pageSize ?? DEFAULT_ANNOTATION_PAGE;
    let after: { createdAt: number; annotationId: string } | undefined;
    if (page.pageToken) {
      const body = decodePageToken(page.pageToken, "pageToken");
      if (!Number.isSafeInteger(body.c) || typeof body.i !== "string") {
        throw invalid("The page token is malformed", { parameter: "pageToken" });
      }
      after = { createdAt: body.c as number, annotationId: body.i };
    }
    const rows = await this.ctx.metadata.listAnnotations(orgId, datasetId, assetId, {
      limit: limit + 1,
      ...(after ? { after } : {}),
    });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextPage = rows.length > limit && last ? encodePageToken({ c: last.createdAt, i: last.annotationId }) : null;
    return { items, nextPage };
  }

  async get(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<AnnotationRecord> {
    const found = await this.ctx.metadata.getAnnotation(orgId, datasetId, assetId, annotationId);
    if (found) return found;
    await this.assets.get(orgId, datasetId, assetId);
    throw notFound("Annotation", annotationId);
  }

  async delete(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<void> {
    if (await this.ctx.metadata.deleteAnnotation(orgId, datasetId, assetId, annotationId)) return;
    await this.assets.get(orgId, datasetId, assetId);
    throw notFound("Annotation", annotationId);
  }

  private async missingAsset(orgId: string, datasetId: string, assetId: string): Promise<never> {
    await this.assets.get(orgId, datasetId, assetId);
    throw notFound("Asset", assetId);
  }
}

/** A caption, or a box: `[[x0, y0], [x1, y1]]` with finite numbers, x0 <= x1 and y0 <= y1. */
function contentsOf(c: CreateAnnotationRequest["spec"]["contents"]): AnnotationContentsRecord {
  if (c === undefined)
    return {
      kind: "PhraseGroundingBoundingBox",
      bound: [
        [0, 0],
        [1, 1],
      ],
      target: [0, 0],
    };
  if ("kind" in c && c.kind === "Caption") return { kind: "Caption", contents: c.contents };
  const box = c as { bound: number[][]; target?: number[] };
  const [[x0, y0] = [], [x1, y1] = []] = box.bound;
  const ok = [x0, y0, x1, y1].every((v) => typeof v === "number" && Number.isFinite(v));
  if (!ok || x0! > x1! || y0! > y1!) {
    throw invalid("spec.contents.bound must be [[x0, y0], [x1, y1]] with finite numbers, x0 <= x1 and y0 <= y1", {
      field: "spec.contents.bound",
    });
  }
  return {
    kind: "PhraseGroundingBoundingBox",
    bound: [
      [x0!, y0!],
      [x1!, y1!],
    ],
    target: box.target ?? [0, 0],
  };
}
