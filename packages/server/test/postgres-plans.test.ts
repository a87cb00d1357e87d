import { Kysely, PostgresDialect, sql, type CompiledQuery } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selection } from "../src/query/index.js";
import { KyselyMetadataStore } from "../src/store/metadata/kysely-store.js";
import { newPool } from "../src/store/metadata/postgres.js";
import type { AssetSelection } from "../src/store/metadata/metadata-store.js";
import type { Database } from "../src/store/metadata/schema.js";
import { createTestDatabase, scaleout } from "../../../test/helpers/test-database.mjs";

/**
 * The listing, filter and query paths on PostgreSQL read the assets table through its indexes:
 * every statement they run is EXPLAINed on a seeded, ANALYZEd database, and no plan may scan
 * the assets table sequentially. (Byte-order collation and integer literals matter here: an
 * index of another collation, or a column cast to double precision, is not used.)
 */
const PER_DATASET = 20_000;

describe.skipIf(!scaleout())("PostgreSQL plans (needs VI_TEST_DATABASE_URL: npm run test:scaleout)", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Kysely<Database>;
  let store: KyselyMetadataStore;
  const captured: CompiledQuery[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: newPool(database.url, 4) }),
      log: (event) => {
        if (event.level === "query") captured.push(event.query);
      },
    });
    store = new KyselyMetadataStore(db, "postgres");
    await store.migrate();
    // Two organizations' datasets of the same size: every index must narrow by dataset first.
    await sql`insert into organizations (org_id, name, created_at) values ('o1', 'one', 0), ('o2', 'two', 0)`.execute(
      db,
    );
    await sql`insert into datasets (org_id, dataset_id, name, type, content, created_at, last_accessed, asset_count)
      values ('o1', 'd1', 'd1', 'Dataset', 'Image', 0, 0, ${PER_DATASET}),
             ('o2', 'd2', 'd2', 'Dataset', 'Image', 0, 0, ${PER_DATASET})`.execute(db);
    await sql`insert into assets (asset_id, org_id, dataset_id, filename, filename_folded, sha256, file_size, mime_type,
        width, height, raw_width, raw_height, orientation, frames, custom_metadata, created_at, updated_at,
        contents_updated_at, generation)
      select o || '-a' || g, o, d, 'Img_' || lpad(g::text, 6, '0') || '.jpg', 'img_' || lpad(g::text, 6, '0') || '.jpg',
        md5(g::text), 1000 + g, 'image/jpeg', 100 + g % 2000, 100 + g % 1500, 100 + g % 2000, 100 + g % 1500, 1, 1,
        '{}', g, g, g, 1
      from generate_series(1, ${PER_DATASET}) g, (values ('o1', 'd1'), ('o2', 'd2')) t(o, d)`.execute(db);
    await sql`insert into asset_fields (asset_seq, key, org_id, dataset_id, value_type, str_value, str_folded, num_value)
      select seq, 'split', org_id, dataset_id, 'string', s, s, null
        from (select seq, org_id, dataset_id, (array['train', 'val', 'test', 'rare'])[1 + (case when seq % 500 = 0 then 3 else seq % 3 end)] s from assets) x
      union all
      select seq, 'score', org_id, dataset_id, 'number', null, null, seq % 1000 from assets`.execute(db);
    await sql`analyze`.execute(db);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  /**
   * Runs `work`, then runs again each statement it ran that reads assets under EXPLAIN ANALYZE:
   * answers the sequential scans of assets, and how many rows the plans read and then threw
   * away (a filter the index did not serve). An indexed query reads about what it answers.
   */
  async function plansOf(work: () => Promise<unknown>) {
    captured.length = 0;
    await work();
    const reads = captured.filter((q) => /\bassets\b/.test(q.sql) && /^\s*select/i.test(q.sql));
    const seqScans: string[] = [];
    let discarded = 0;
    for (const q of reads) {
      const explained = await db.executeQuery<{ "QUERY PLAN": unknown }>({
        ...q,
        sql: `explain (analyze, format json) ${q.sql}`,
      } as CompiledQuery<{ "QUERY PLAN": unknown }>);
      const walk = (node: Record<string, unknown>): void => {
        if (node["Node Type"] === "Seq Scan" && node["Relation Name"] === "assets") seqScans.push(q.sql);
        const loops = Number(node["Actual Loops"] ?? 1);
        discarded += Number(node["Rows Removed by Filter"] ?? 0) * loops;
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
      };
      walk((explained.rows[0]!["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan);
    }
    return { statements: reads.length, seqScans, discarded };
  }

  const sel = (metadataQuery: string, strict = false): AssetSelection => ({
    expr: selection({ metadataQuery })!,
    strict,
  });
  const list = (s: AssetSelection | undefined, extra: Partial<Parameters<KyselyMetadataStore["listAssets"]>[0]> = {}) =>
    store.listAssets({
      orgId: "o1",
      datasetId: "d1",
      ...(s ? { selection: s } : {}),
      sortKey: "seq",
      descending: false,
      limit: 100,
      ...extra,
    });

  const cases: [string, () => Promise<unknown>][] = [
    ["the default listing", () => list(undefined)],
    [
      "a deep keyset page by filename",
      () => list(undefined, { sortKey: "filename", after: { value: "Img_015000.jpg", seq: 15000 } }),
    ],
    ["a page by file size, descending", () => list(undefined, { sortKey: "fileSize", descending: true })],
    ["a filename prefix (case-insensitive)", () => list(sel('filename startsWith "img_0123"'))],
    ["a filename prefix (strict)", () => list(sel('filename startsWith "Img_0123"', true))],
    [
      "a strict filename prefix, sorted by filename",
      () => list(sel('filename startsWith "Img_0123"', true), { sortKey: "filename" }),
    ],
    ["a size range", () => list(sel("metadata.fileSize > 1000 and metadata.fileSize < 1100"))],
    ["a width, sorted by width", () => list(sel("metadata.width == 1500"), { sortKey: "width" })],
    ["a rare custom string", () => list(sel('split == "rare"'))],
    ["a custom number range and a string", () => list(sel('score < 3 and split == "val"'))],
    ["a count of a custom selection", () => store.countAssets("o1", "d1", sel('split == "rare"'))],
    ["a count of a filename prefix", () => store.countAssets("o1", "d1", sel('filename startsWith "img_0199"'))],
  ];

  for (const [name, work] of cases) {
    it(`${name}: no sequential scan of assets, and no rows read to be thrown away`, async () => {
      const { statements, seqScans, discarded } = await plansOf(work);
      expect(statements).toBeGreaterThan(0);
      expect(seqScans).toEqual([]);
      // Each case selects at most a few hundred of the dataset's 20,000 assets.
      expect(discarded).toBeLessThan(500);
    });
  }

  it("answers in byte order, as SQLite's BINARY does (upper case before lower case)", async () => {
    await sql`insert into datasets (org_id, dataset_id, name, type, content, created_at, last_accessed)
      values ('o2', 'd3', 'd3', 'Dataset', 'Image', 0, 0)`.execute(db);
    await sql`insert into assets (asset_id, org_id, dataset_id, filename, filename_folded, sha256, file_size, mime_type,
        width, height, raw_width, raw_height, orientation, frames, custom_metadata, created_at, updated_at,
        contents_updated_at, generation)
      select id, 'o2', 'd3', name, lower(name), 'x', 1, 'image/jpeg', 1, 1, 1, 1, 1, 1, '{}', 0, 0, 0, 1
      from (values ('z1', 'b.jpg'), ('z2', 'B.jpg'), ('z3', 'a.jpg')) v(id, name)`.execute(db);
    const page = await store.listAssets({
      orgId: "o2",
      datasetId: "d3",
      sortKey: "filename",
      descending: false,
      limit: 10,
    });
    expect(page.map((a) => a.filename)).toEqual(["B.jpg", "a.jpg", "b.jpg"]);
  });
});
