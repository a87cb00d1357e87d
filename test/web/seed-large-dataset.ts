import BetterSqlite3 from "better-sqlite3";
import { join } from "node:path";
import pg from "pg";

/** Where a stopped server kept its metadata: its data dir's SQLite file, or its PostgreSQL database. */
export interface SeedTarget {
  dataDir: string;
  databaseUrl?: string | undefined;
}

/**
 * Fills a dataset of a stopped server's store with `count` assets in one transaction, each a
 * copy of one of the (processed) assets of `sourceDatasetId`: same bytes and thumbnail blobs,
 * new ids and filenames. Rows go straight into the metadata store, as bench/query-1m-data.mjs
 * does for a million; uploading 100,000 files would take this test's whole budget.
 */
export async function seedLargeDataset(
  target: SeedTarget,
  orgId: string,
  sourceDatasetId: string,
  targetDatasetId: string,
  count: number,
): Promise<void> {
  if (target.databaseUrl) return seedPostgres(target.databaseUrl, orgId, sourceDatasetId, targetDatasetId, count);
  const db = new BetterSqlite3(join(target.dataDir, "metadata.sqlite"));
  try {
    const columns = (db.prepare("pragma table_info(assets)").all() as { name: string }[])
      .map((c) => c.name)
      .filter((c) => c !== "seq");
    const renamed: Record<string, string> = {
      asset_id: "printf('big%07d', n.i)",
      dataset_id: "@target",
      filename: "printf('big/%06d-', n.i) || replace(src.filename, 'valid/', '')",
      filename_folded: "lower(printf('big/%06d-', n.i) || replace(src.filename, 'valid/', ''))",
    };
    const select = columns.map((c) => renamed[c] ?? `src.${c}`).join(", ");
    db.transaction(() => {
      db.prepare(
        `insert into assets (${columns.join(", ")})
         with recursive n(i) as (select 0 union all select i + 1 from n where i < @count - 1),
         src as (select *, row_number() over (order by seq) - 1 as r, count(*) over () as k
                 from assets where org_id = @org and dataset_id = @source)
         select ${select} from n join src on src.r = n.i % src.k order by n.i`,
      ).run({ org: orgId, source: sourceDatasetId, target: targetDatasetId, count });
      db.prepare("update datasets set asset_count = ? where org_id = ? and dataset_id = ?").run(
        count,
        orgId,
        targetDatasetId,
      );
    })();
  } finally {
    db.close();
  }
}

/** The same rows on PostgreSQL: generate_series instead of a recursive CTE, one transaction. */
async function seedPostgres(url: string, orgId: string, source: string, target: string, count: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ column_name: string }>(
      `select column_name from information_schema.columns
       where table_schema = current_schema() and table_name = 'assets' and column_name <> 'seq'
       order by ordinal_position`,
    );
    const columns = rows.map((r) => r.column_name);
    const name = "'big/' || lpad(n.i::text, 6, '0') || '-' || replace(src.filename, 'valid/', '')";
    const renamed: Record<string, string> = {
      asset_id: "'big' || lpad(n.i::text, 7, '0')",
      dataset_id: "$3",
      filename: name,
      filename_folded: `lower(${name})`,
    };
    const select = columns.map((c) => renamed[c] ?? `src.${c}`).join(", ");
    await client.query("begin");
    await client.query(
      `insert into assets (${columns.join(", ")})
       select ${select} from generate_series(0, $4::int - 1) as n(i)
       join (select *, row_number() over (order by seq) - 1 as r, count(*) over () as k
             from assets where org_id = $1 and dataset_id = $2) src on src.r = n.i % src.k
       order by n.i`,
      [orgId, source, target, count],
    );
    await client.query("update datasets set asset_count = $1 where org_id = $2 and dataset_id = $3", [
      count,
      orgId,
      target,
    ]);
    await client.query("commit");
  } finally {
    await client.end();
  }
}
