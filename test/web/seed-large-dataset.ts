import BetterSqlite3 from "better-sqlite3";
import { join } from "node:path";

/**
 * Fills a dataset of a stopped server's data dir with `count` assets in one transaction, each a
 * copy of one of the (processed) assets of `sourceDatasetId`: same bytes and thumbnail blobs,
 * new ids and filenames. Rows go straight into the metadata store, as bench/query-1m-data.mjs
 * does for a million; uploading 100,000 files would take this test's whole budget.
 */
export function seedLargeDataset(
  dataDir: string,
  orgId: string,
  sourceDatasetId: string,
  targetDatasetId: string,
  count: number,
): void {
  const db = new BetterSqlite3(join(dataDir, "metadata.sqlite"));
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
