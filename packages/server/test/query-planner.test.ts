import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selection } from "../src/query/index.js";
import { SelectionPlanner } from "../src/store/metadata/kysely/planner.js";
import { fieldRows, fold } from "../src/store/metadata/migrations.js";
import { openSqliteStore } from "../src/store/metadata/sqlite.js";
import type { Database } from "../src/store/metadata/schema.js";

const ORG = "org";
const DS = "ds";
const N = 3000;

/** The planner drives a query from a custom key's index range only when that range is narrow. */
describe("SelectionPlanner", () => {
  let dir: string;
  let db: Kysely<Database>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vi-planner-"));
    const file = join(dir, "m.sqlite");
    await (await openSqliteStore(file)).close(); // the real migrations
    const raw = new BetterSqlite3(file);
    raw.prepare("insert into organizations values (?, ?, 0)").run(ORG, "o");
    raw
      .prepare(
        "insert into datasets (org_id, dataset_id, name, type, content, created_at, last_accessed, asset_count) values (?, ?, 'd', 'vqa', 'Image', 0, 0, ?)",
      )
      .run(ORG, DS, N);
    const asset = raw.prepare(
      `insert into assets (seq, asset_id, org_id, dataset_id, filename, filename_folded, sha256, file_size, mime_type, width, height,
        raw_width, raw_height, orientation, frames, custom_metadata, created_at, updated_at, contents_updated_at, generation)
       values (?, ?, ?, ?, ?, ?, 'x', 1, 'image/png', 1, 1, 1, 1, 1, 1, ?, 0, 0, 0, 1)`,
    );
    const field = raw.prepare(
      "insert into asset_fields values (@asset_seq, @key, @org_id, @dataset_id, @value_type, @str_value, @str_folded, @num_value)",
    );
    raw.transaction(() => {
      for (let i = 1; i <= N; i++) {
        const custom = { common: "yes", score: i / N, ...(i % 600 === 0 ? { rare: "x" } : {}) };
        asset.run(i, `a${i}`, ORG, DS, `f${i}.png`, fold(`f${i}.png`), JSON.stringify(custom));
        for (const row of fieldRows(i, ORG, DS, custom)) field.run(row);
      }
    })();
    raw.close();
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  });
  afterAll(async () => {
    await db?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const choose = (query: string, limit: number | undefined) => {
    const expr = selection({ metadataQuery: query })!;
    return new SelectionPlanner().choose(db, "sqlite", ORG, DS, { expr, strict: false }, limit);
  };

  it("drives from a narrow range, for a page and for a count", async () => {
    expect((await choose('rare == "x"', 101))?.nodes[0]).toMatchObject({ field: { key: "rare" } });
    expect((await choose('rare == "x"', undefined))?.nodes[0]).toMatchObject({ field: { key: "rare" } });
  });

  it("walks a broad selection in page order, and drives its count only when the range is small", async () => {
    expect(await choose('common == "yes"', 101)).toBeUndefined();
    expect(await choose("score >= 0.5", 101)).toBeUndefined();
    expect(await choose("score >= 0.5", undefined)).toBeUndefined();
  });

  it("picks the narrowest of several conjuncts when together they are narrow", async () => {
    const drive = await choose('common == "yes" and rare == "x" and score >= 0.1', 101);
    expect(drive?.nodes[0]).toMatchObject({ field: { key: "rare" } });
  });

  it("never drives from a test that no index range serves", async () => {
    expect(await choose('rare != "x"', 101)).toBeUndefined();
    expect(await choose('rare contains "x"', 101)).toBeUndefined();
    expect(await choose('not (rare == "x")', 101)).toBeUndefined();
  });
});
