import { compileProbe, driverCandidates, printQuery, type Driver, type Expr } from "../../../query/index.js";
import type { AssetSelection } from "../metadata-store.js";
import { datasetAssetCount, num, type Db } from "./common.js";

/**
 * Chooses how a selection reaches its assets.
 *
 * By default each custom-key test is an EXISTS probe per asset row, walked in the page's order:
 * a page of a broad selection stops after a few hundred rows. When the selection is narrow the
 * walk gets long (a 0.05% selection reads 200,000 rows for a page of 100), and it is cheaper to
 * start from the index range of the most selective test (its assets looked up by seq, then
 * sorted): that test becomes the query's driver.
 *
 * The choice needs the size of each candidate's range: counted from its index, at most
 * PROBE_LIMIT rows, and kept for a minute (with the dataset's size), so that the pages of one
 * listing count once. The cost model is deliberately coarse: a walk costs one row per asset
 * read, assuming the tests are independent; driving costs four per asset looked up (a lookup
 * by seq, the other tests, the sort), and when several ranges are intersected, a quarter per
 * index entry read as well. Ranges past PROBE_LIMIT never drive.
 */
const PROBE_LIMIT = 100_000;
const DRIVE_COST = 4;
/** Reading one more index entry for an intersection costs far less than a lookup by seq. */
const INTERSECT_COST = 0.25;
const CACHE_MS = 60_000;
const CACHE_ENTRIES = 1000;

export class SelectionPlanner {
  private readonly cache = new Map<string, { n: number; at: number }>();

  /** The driver for a page of `limit` rows, or for every row when `limit` is undefined (counts, bulk deletes). */
  async choose(
    db: Db,
    dialect: "sqlite" | "postgres",
    orgId: string,
    datasetId: string,
    selection: AssetSelection,
    limit: number | undefined,
  ): Promise<Driver | undefined> {
    const candidates = driverCandidates(selection.expr);
    if (candidates.length === 0) return undefined;
    const total = await this.cached(`${orgId}/${datasetId}`, () => datasetAssetCount(db, orgId, datasetId));
    if (total === 0) return undefined;
    const sized: { node: Expr; n: number }[] = [];
    let selectivity = 1;
    for (const node of candidates) {
      const key = `${orgId}/${datasetId}/${selection.strict ? "s" : "f"}/${printQuery(node)}`;
      const n = await this.cached(key, () => rangeSize(db, dialect, orgId, datasetId, selection.strict, node));
      selectivity *= Math.min(1, n / total);
      if (n < PROBE_LIMIT) sized.push({ node, n });
    }
    if (sized.length === 0) return undefined;
    sized.sort((a, b) => a.n - b.n);
    const walk = limit === undefined ? total : Math.min(total, selectivity > 0 ? limit / selectivity : total);
    // The assets in every range: each range is read once, then only the common ones are looked up.
    const common = Math.max(1, Math.round(total * sized.reduce((p, s) => p * (s.n / total), 1)));
    const intersect = sized.reduce((sum, s) => sum + s.n * INTERSECT_COST, 0) + common * DRIVE_COST;
    const single = sized[0]!.n * DRIVE_COST;
    if (Math.min(intersect, single) >= walk) return undefined;
    const nodes = sized.length > 1 && intersect < single ? sized.map((s) => s.node) : [sized[0]!.node];
    return { nodes, orgId, datasetId };
  }

  private async cached(key: string, compute: () => Promise<number>): Promise<number> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.n;
    const n = await compute();
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { n, at: Date.now() });
    return n;
  }
}

async function rangeSize(
  db: Db,
  dialect: "sqlite" | "postgres",
  orgId: string,
  datasetId: string,
  strict: boolean,
  node: Expr,
): Promise<number> {
  const probe = compileProbe(node, { strict, dialect, orgId, datasetId, limit: PROBE_LIMIT });
  const { rows } = await probe.execute(db);
  return num(rows[0]?.n ?? PROBE_LIMIT);
}
