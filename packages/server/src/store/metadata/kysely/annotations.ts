import type { Selectable } from "kysely";
import type { AnnotationContentsRecord, AnnotationRecord } from "../records.js";
import type { Database } from "../schema.js";
import { num, type Db } from "./common.js";

/** The annotation aggregate: each write keeps its asset's `annotation_count` in the same transaction. */

export interface AnnotationCursor {
  createdAt: number;
  annotationId: string;
}

/** Stores one annotation, giving its tag an id within the dataset the first time the tag is used. */
export async function createAnnotation(
  tx: Db,
  a: Omit<AnnotationRecord, "tagId">,
): Promise<AnnotationRecord | undefined> {
  const asset = await tx
    .updateTable("assets")
    .set((eb) => ({ annotation_count: eb("annotation_count", "+", 1) }))
    .where("org_id", "=", a.orgId)
    .where("dataset_id", "=", a.datasetId)
    .where("asset_id", "=", a.assetId)
    .executeTakeFirst();
  if (num(asset.numUpdatedRows) === 0) return undefined;
  const tagId = await tagIdOf(tx, a.orgId, a.datasetId, a.tag, a.createdAt);
  await tx
    .insertInto("annotations")
    .values({
      annotation_id: a.annotationId,
      org_id: a.orgId,
      dataset_id: a.datasetId,
      asset_id: a.assetId,
      tag: a.tag,
      contents: JSON.stringify(a.contents),
      created_at: a.createdAt,
      updated_at: a.updatedAt,
    })
    .execute();
  return { ...a, tagId };
}

async function tagIdOf(tx: Db, orgId: string, datasetId: string, name: string, t: number): Promise<number> {
  const known = await tx
    .selectFrom("dataset_tags")
    .select("tag_id")
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("name", "=", name)
    .executeTakeFirst();
  if (known) return known.tag_id;
  const max = await tx
    .selectFrom("dataset_tags")
    .select((eb) => eb.fn.max("tag_id").as("m"))
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .executeTakeFirst();
  const tagId = num(max?.m ?? 0) + 1;
  await tx
    .insertInto("dataset_tags")
    .values({ org_id: orgId, dataset_id: datasetId, name, tag_id: tagId, created_at: t })
    .execute();
  return tagId;
}

function annotations(db: Db, orgId: string, datasetId: string, assetId: string) {
  return db
    .selectFrom("annotations as a")
    .innerJoin("dataset_tags as t", (j) =>
      j.onRef("t.org_id", "=", "a.org_id").onRef("t.dataset_id", "=", "a.dataset_id").onRef("t.name", "=", "a.tag"),
    )
    .selectAll("a")
    .select("t.tag_id")
    .where("a.org_id", "=", orgId)
    .where("a.dataset_id", "=", datasetId)
    .where("a.asset_id", "=", assetId);
}

/** One keyset page of an asset's annotations, oldest first. */
export async function listAnnotations(
  db: Db,
  orgId: string,
  datasetId: string,
  assetId: string,
  page: { after?: AnnotationCursor; limit: number },
): Promise<AnnotationRecord[]> {
  let q = annotations(db, orgId, datasetId, assetId);
  if (page.after) {
    const { createdAt, annotationId } = page.after;
    q = q.where((eb) =>
      eb.or([
        eb("a.created_at", ">", createdAt),
        eb.and([eb("a.created_at", "=", createdAt), eb("a.annotation_id", ">", annotationId)]),
      ]),
    );
  }
  const rows = await q.orderBy("a.created_at").orderBy("a.annotation_id").limit(page.limit).execute();
  return rows.map(toAnnotation);
}

export async function getAnnotation(
  db: Db,
  orgId: string,
  datasetId: string,
  assetId: string,
  annotationId: string,
): Promise<AnnotationRecord | undefined> {
  const row = await annotations(db, orgId, datasetId, assetId)
    .where("a.annotation_id", "=", annotationId)
    .executeTakeFirst();
  return row && toAnnotation(row);
}

export async function deleteAnnotation(
  tx: Db,
  orgId: string,
  datasetId: string,
  assetId: string,
  annotationId: string,
): Promise<boolean> {
  const res = await tx
    .deleteFrom("annotations")
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("asset_id", "=", assetId)
    .where("annotation_id", "=", annotationId)
    .executeTakeFirst();
  if (num(res.numDeletedRows) === 0) return false;
  await tx
    .updateTable("assets")
    .set((eb) => ({ annotation_count: eb("annotation_count", "-", 1) }))
    .where("org_id", "=", orgId)
    .where("dataset_id", "=", datasetId)
    .where("asset_id", "=", assetId)
    .execute();
  return true;
}

function toAnnotation(r: Selectable<Database["annotations"]> & { tag_id: number }): AnnotationRecord {
  return {
    annotationId: r.annotation_id,
    orgId: r.org_id,
    datasetId: r.dataset_id,
    assetId: r.asset_id,
    tag: r.tag,
    tagId: num(r.tag_id),
    contents: normalizeContents(JSON.parse(r.contents)),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** Rows written before contents had a kind (a bare `{bound}` or nothing) read as boxes. */
function normalizeContents(c: unknown): AnnotationContentsRecord {
  const o = (typeof c === "object" && c !== null ? c : {}) as Record<string, unknown>;
  if (o.kind === "Caption") return { kind: "Caption", contents: typeof o.contents === "string" ? o.contents : "" };
  const bound = Array.isArray(o.bound)
    ? (o.bound as number[][])
    : [
        [0, 0],
        [1, 1],
      ];
  const target = Array.isArray(o.target) ? (o.target as number[]) : [0, 0];
  return { kind: "PhraseGroundingBoundingBox", bound, target };
}
