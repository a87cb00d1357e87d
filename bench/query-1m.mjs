#!/usr/bin/env node
// Benchmark: listing and querying a dataset of 1,000,000 assets with custom metadata, through
// AssetService.list exactly as the HTTP route calls it (filter and query parsing, compilation,
// keyset page tokens, the count policy), against a hand-written SQL query for the same page on the
// same database, measured in the same run. Rows are inserted directly (no bytes) into SQLite; the
// database is kept in .bench-tmp/query-1m/ and reused by later runs. With VI_BENCH_BACKEND=postgres
// the same rows are copied into PostgreSQL (bench/query-1m-backends.mjs) and measured there.
//
//   node bench/query-1m.mjs [assets=1000000] [runs=200] [--plans] [--analyze]
//   VI_BENCH_BACKEND=postgres node bench/query-1m.mjs [assets] [runs] [--plans]
//
// --plans prints the query plans of every case; those of a case that misses its target are
// printed anyway. The planner statistics are the server's own (its PRAGMA optimize at open, which
// samples a bounded number of rows); --analyze measures with a complete ANALYZE instead. On
// PostgreSQL they are those of an ANALYZE after loading (as autovacuum would make them).
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { resolveConfig } from "@vi/server";
import { AssetService } from "../packages/server/dist/services/asset-service.js";
import { DatasetService } from "../packages/server/dist/services/dataset-service.js";
import { BlobReleaser } from "../packages/server/dist/services/blob-releaser.js";
import { benchDatabase, DATASET, ORG } from "./query-1m-data.mjs";
import { openBackend } from "./query-1m-backends.mjs";
import { BACKEND, fmt } from "./lib.mjs";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const assets = Number(args[0] ?? 1_000_000);
const runs = Number(args[1] ?? 200);
const allPlans = process.argv.includes("--plans");
const stats = process.argv.includes("--analyze") ? "full" : "server";
const PAGE = 100;
const ABSOLUTE_MS = 5; // p99 target of unfiltered and indexed pages
const RELATIVE = 2; // p99 target of the rest, against the hand-written SQL
const WALK_SECONDS = 10;

const cpuStart = process.cpuUsage();
const loadStart = loadavg()[0];
const { file, buildSeconds, statsSeconds } = await benchDatabase(assets, stats);
const backend = await openBackend(BACKEND === "postgres" ? "postgres" : "sqlite", file);
const decoy = Math.floor(assets / 10);
console.log(
  `query-1m: ${fmt(assets, 0)} assets with 5 custom keys each (+ a decoy dataset of ${fmt(decoy, 0)} in the same organization), ${backend.label}`,
);
console.log(
  buildSeconds > 0
    ? `  database built in ${fmt(buildSeconds, 1)} s (rows inserted directly)`
    : `  database reused from ${file}`,
);
if (backend.label === "PostgreSQL") {
  console.log(
    backend.loadSeconds > 0
      ? `  copied into PostgreSQL in ${fmt(backend.loadSeconds, 1)} s (the migrate copier; indexes made after the rows), then ANALYZE`
      : "  PostgreSQL database reused (VI_BENCH_DATABASE_URL, same rows)",
  );
} else {
  console.log(
    (stats === "full"
      ? "  planner statistics: a complete ANALYZE (--analyze; the server's own PRAGMA optimize samples fewer rows)"
      : "  planner statistics: the server's own (PRAGMA optimize when openSqliteStore opens the file)") +
      (statsSeconds > 0 ? `, made in ${fmt(statsSeconds, 1)} s` : ""),
  );
}

/** The service as the app builds it; list() only reads ctx.metadata (and the config, unused here). */
function service(metadata) {
  const ctx = { config: resolveConfig({ dataDir: dirname(file) }, {}), metadata };
  const releaser = new BlobReleaser(ctx);
  return new AssetService(ctx, new DatasetService(ctx, releaser), releaser);
}
const assetsService = service(backend.store);
/** The hand-written statements of a case, one after the other; their rows. */
async function runHand(statements) {
  const results = [];
  for (const [text, params] of statements) results.push(await backend.all(text, params));
  return results;
}

// The compiled SQL of a request, for EXPLAIN: the same service over a logging Kysely (same database).
const captured = [];
const logged = service(backend.logged((e) => e.level === "query" && captured.push(e.query)));

// ---- cursors 500,000 rows deep, encoded as asset-service.ts encodeToken does ----
const token = (body) => Buffer.from(JSON.stringify(body)).toString("base64url");
const DEEP = Math.floor(assets / 2);
const [deepSeq] = await backend.all(
  "select seq from assets where org_id = ? and dataset_id = ? order by seq limit 1 offset ?",
  [ORG, DATASET, DEEP - 1],
);
const [deepSize] = await backend.all(
  "select file_size, seq from assets where org_id = ? and dataset_id = ? order by file_size desc, seq desc limit 1 offset ?",
  [ORG, DATASET, DEEP - 1],
);
const deepToken = token({ k: "seq", d: false, v: deepSeq.seq, s: deepSeq.seq });
const deepSizeToken = token({ k: "fileSize", d: true, v: deepSize.file_size, s: deepSize.seq });

// ---- the cases: the request as the route passes it, and the hand-written statements ----
const O = [ORG, DATASET];
const L = PAGE + 1; // a page and one row more, to know whether another follows (as the service asks)
const scope = "a.org_id = ? and a.dataset_id = ?";
const fields = "f.org_id = ? and f.dataset_id = ?";
// Custom keys, the way a person who knows the schema writes them: a selective test drives from its
// covering typed index (org_id, dataset_id, key, value_type, value, asset_seq); a broad one probes
// each asset's row by (asset_seq, key) in seq order; two selective keys intersect their two ranges.
const fromField = (where) =>
  `select a.* from assets a where a.seq in (select f.asset_seq from asset_fields f where ${fields} and ${where}) order by a.seq limit ?`;
const probeField = (key, where) =>
  `select a.* from assets a cross join asset_fields f on f.asset_seq = a.seq and f.key = '${key}' where ${scope} and ${where} order by a.seq limit ?`;
const pageOfOne = (text, params) => [text, [...params.slice(0, -1), 2]];

const cam07Score99 = `select f.asset_seq from asset_fields f where ${fields} and f.key = 'camera' and f.value_type = 'string'
    and f.str_folded = 'cam-07'
  intersect select f.asset_seq from asset_fields f where ${fields} and f.key = 'score' and f.value_type = 'number'
    and f.num_value >= 0.99`;
const selective2 = `select a.* from assets a where a.seq in (${cam07Score99}) order by a.seq limit ?`;
const selective2Count = `select count(*) n from (${cam07Score99}) s`;
const broadScore = probeField("score", "f.value_type = 'number' and f.num_value >= 0.2");
const broadScoreCount = `select count(*) n from assets a where ${scope} and exists (select 1 from asset_fields f
  where f.asset_seq = a.seq and f.key = 'score' and f.value_type = 'number' and f.num_value >= 0.2)`;

const CASES = [
  {
    name: "first page (default order)",
    target: "abs",
    req: {},
    hand: [[`select * from assets a where ${scope} order by a.seq limit ?`, [...O, L]]],
  },
  {
    name: `page ${fmt(DEEP, 0)} deep (default order)`,
    target: "abs",
    req: { pageToken: deepToken },
    hand: [[`select * from assets a where ${scope} and a.seq > ? order by a.seq limit ?`, [...O, deepSeq.seq, L]]],
  },
  {
    name: `page ${fmt(DEEP, 0)} deep (fileSize desc)`,
    target: "abs",
    req: { sortBy: "metadata.fileSize", order: "desc", pageToken: deepSizeToken },
    hand: [
      [
        `select * from assets a where ${scope} and (a.file_size, a.seq) < (?, ?) order by a.file_size desc, a.seq desc limit ?`,
        [...O, deepSize.file_size, deepSize.seq, L],
      ],
    ],
  },
  {
    name: "filter png, fileSize >= 1 MB, fileSize desc",
    target: "abs",
    req: {
      filter: JSON.stringify({ mimeType: "image/png", fileSize: { gte: 1_000_000 } }),
      sortBy: "metadata.fileSize",
      order: "desc",
    },
    hand: [
      [
        `select * from assets a where ${scope} and a.mime_type = 'image/png' and a.file_size >= 1000000 order by a.file_size desc, a.seq desc limit ?`,
        [...O, L],
      ],
    ],
  },
  {
    name: 'query camera == "cam-07" and score >= 0.99',
    target: "rel",
    req: { metadataQuery: 'camera == "cam-07" and score >= 0.99' },
    hand: [[selective2, [...O, ...O, L]]],
  },
  {
    name: 'query weather == "hail" (0.1%)',
    target: "rel",
    req: { metadataQuery: 'weather == "hail"' },
    hand: [[fromField("f.key = 'weather' and f.value_type = 'string' and f.str_folded = 'hail'"), [...O, L]]],
  },
  {
    name: "query score >= 0.2 (80%)",
    target: "rel",
    req: { metadataQuery: "score >= 0.2" },
    hand: [[broadScore, [...O, L]]],
  },
  {
    name: 'query split == "train" (80%)',
    target: "rel",
    req: { metadataQuery: 'split == "train"' },
    hand: [[probeField("split", "f.value_type = 'string' and f.str_folded = 'train'"), [...O, L]]],
  },
  {
    name: 'filename startsWith "cam3/"',
    target: "abs",
    req: { metadataQuery: 'filename startsWith "cam3/"' },
    hand: [
      [
        `select * from assets a where ${scope} and a.filename_folded >= 'cam3/' and a.filename_folded < 'cam30' order by a.seq limit ?`,
        [...O, L],
      ],
    ],
  },
  {
    name: 'filename startsWith "cam3/", strict',
    target: "abs",
    req: { metadataQuery: 'filename startsWith "cam3/"', strictQuery: true },
    hand: [
      [
        `select * from assets a where ${scope} and a.filename >= 'cam3/' and a.filename < 'cam30' order by a.seq limit ?`,
        [...O, L],
      ],
    ],
  },
  {
    name: "count, unfiltered (hand: count(*))",
    target: "abs",
    req: { pageSize: 1, count: true },
    hand: [
      pageOfOne(`select * from assets a where ${scope} order by a.seq limit ?`, [...O, L]),
      [`select count(*) n from assets a where ${scope}`, O],
    ],
    total: 1,
  },
  {
    name: "count, score >= 0.2",
    target: "rel",
    req: { metadataQuery: "score >= 0.2", pageSize: 1, count: true },
    hand: [pageOfOne(broadScore, [...O, L]), [broadScoreCount, O]],
    total: 1,
  },
  {
    name: 'count, camera == "cam-07" and score >= 0.99',
    target: "rel",
    req: { metadataQuery: 'camera == "cam-07" and score >= 0.99', pageSize: 1, count: true },
    hand: [pageOfOne(selective2, [...O, ...O, L]), [selective2Count, [...O, ...O]]],
    total: 1,
  },
  {
    name: "count, filter png, fileSize >= 1 MB",
    target: "rel",
    req: { filter: JSON.stringify({ mimeType: "image/png", fileSize: { gte: 1_000_000 } }), pageSize: 1, count: true },
    hand: [
      pageOfOne(
        `select * from assets a where ${scope} and a.mime_type = 'image/png' and a.file_size >= 1000000 order by a.seq limit ?`,
        [...O, L],
      ),
      [`select count(*) n from assets a where ${scope} and a.mime_type = 'image/png' and a.file_size >= 1000000`, O],
    ],
    total: 1,
  },
];

// ---- measuring ----
const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const cpuMs = (u) => (u.user + u.system) / 1000;

/** Checks that the service and the hand SQL answer the same page (and total), so both do the same work. */
async function check(c) {
  const page = await assetsService.list(ORG, DATASET, c.req);
  const [rows, counted] = await runHand(c.hand);
  const want = rows.slice(0, c.req.pageSize ?? PAGE).map((r) => r.seq);
  const got = page.assets.map((a) => a.seq);
  if (got.join() !== want.join()) throw new Error(`${c.name}: service and hand SQL disagree on the page`);
  if (c.total && page.totalCount !== counted[0].n)
    throw new Error(`${c.name}: totals differ, service ${page.totalCount}, hand SQL ${counted[0].n}`);
  return { page, matches: c.total ? page.totalCount : undefined };
}

async function measure(c) {
  const { matches } = await check(c);
  const warm = Math.min(10, Math.max(2, Math.floor(runs / 20)));
  for (let i = 0; i < warm; i++) {
    await assetsService.list(ORG, DATASET, c.req);
    await runHand(c.hand);
  }
  const svc = [];
  const sql = [];
  const cpu = { svc: 0, sql: 0 };
  for (let i = 0; i < runs; i++) {
    // Interleaved, so that drift (page cache, GC, the other core) falls on both sides alike.
    let u = process.cpuUsage();
    let t = performance.now();
    await assetsService.list(ORG, DATASET, c.req);
    svc.push(performance.now() - t);
    cpu.svc += cpuMs(process.cpuUsage(u));
    u = process.cpuUsage();
    t = performance.now();
    await runHand(c.hand);
    sql.push(performance.now() - t);
    cpu.sql += cpuMs(process.cpuUsage(u));
  }
  svc.sort((a, b) => a - b);
  sql.sort((a, b) => a - b);
  const r = {
    svc50: pct(svc, 0.5),
    svc99: pct(svc, 0.99),
    sql50: pct(sql, 0.5),
    sql99: pct(sql, 0.99),
    cpu: cpu.svc / runs,
    matches,
  };
  const limit = c.target === "abs" ? ABSOLUTE_MS : RELATIVE * r.sql99;
  return {
    ...r,
    ok: r.svc99 <= limit,
    targetText: c.target === "abs" ? `p99 <= ${ABSOLUTE_MS} ms` : `<= ${RELATIVE}x SQL`,
  };
}

/** Every page of the dataset following nextPage, through the service and by hand; seconds each. */
async function walk(pageSize) {
  let u = process.cpuUsage();
  let t = performance.now();
  let rows = 0;
  let pages = 0;
  let pageToken;
  let tokenAtDeep;
  do {
    const page = await assetsService.list(ORG, DATASET, { pageSize, ...(pageToken ? { pageToken } : {}) });
    rows += page.assets.length;
    pages++;
    pageToken = page.nextPage;
    if (rows === DEEP) tokenAtDeep = pageToken;
  } while (pageToken);
  const svc = (performance.now() - t) / 1000;
  const cpu = cpuMs(process.cpuUsage(u)) / 1000;
  if (rows !== assets) throw new Error(`the walk saw ${rows} assets, not ${assets}`);
  if (tokenAtDeep !== deepToken) throw new Error("the walk's token at the deep page differs from the constructed one");
  u = process.cpuUsage();
  t = performance.now();
  const next = `select * from assets a where ${scope} and a.seq > ? order by a.seq limit ?`;
  let last = 0;
  let handRows = 0;
  for (;;) {
    const page = await backend.all(next, [...O, last, pageSize + 1]);
    const n = Math.min(page.length, pageSize);
    handRows += n;
    if (page.length <= pageSize) break;
    last = page[n - 1].seq;
  }
  const sql = (performance.now() - t) / 1000;
  if (handRows !== assets) throw new Error(`the hand walk saw ${handRows} assets`);
  return { pages, svc, sql, cpu, ok: svc < WALK_SECONDS };
}

// ---- the plans of the compiled and the hand-written SQL ----
const inline = (text, params) => {
  let i = 0;
  const literal = (v) => (typeof v === "string" ? `'${v.replaceAll("'", "''")}'` : String(v));
  // SQLite's `?` in order, PostgreSQL's `$n` by number.
  return text.replace(/\?|\$(\d+)/g, (_, n) => literal(n ? params[Number(n) - 1] : params[i++]));
};
async function printPlans(c) {
  captured.length = 0;
  await logged.list(ORG, DATASET, c.req);
  console.log(`\n  plans of "${c.name}"`);
  for (const q of captured.filter((q) => !/from "datasets"/.test(q.sql))) {
    console.log(`    service SQL: ${inline(q.sql, q.parameters)}`);
    for (const line of await backend.plan(q.sql, q.parameters)) console.log(`    ${line}`);
  }
  for (const [text, params] of c.hand) {
    console.log(`    hand SQL: ${inline(text.replace(/\s+/g, " "), params)}`);
    for (const line of await backend.plan(text, params)) console.log(`    ${line}`);
  }
}

// ---- running and printing ----
const results = [];
for (const c of CASES) {
  const r = await measure(c);
  results.push({ c, r });
  process.stderr.write(`  ${c.name}: ${fmt(r.svc99, 2)} ms p99\n`);
}
const walks = [await walk(PAGE), await walk(1000)];

const header = ["case", "svc p50", "svc p99", "SQL p50", "SQL p99", "p99 ratio", "svc CPU/op", "target", ""];
const rows = results.map(({ c, r }) => [
  c.name + (r.matches !== undefined ? ` [${fmt(r.matches, 0)}]` : ""),
  `${fmt(r.svc50, 2)} ms`,
  `${fmt(r.svc99, 2)} ms`,
  `${fmt(r.sql50, 2)} ms`,
  `${fmt(r.sql99, 2)} ms`,
  `${fmt(r.svc99 / r.sql99, 2)}x`,
  `${fmt(r.cpu, 2)} ms`,
  r.targetText,
  r.ok ? "PASS" : "MISS",
]);
for (const [i, w] of walks.entries()) {
  const size = i === 0 ? PAGE : 1000;
  rows.push([
    `walk of all pages, ${size} per page (${fmt(w.pages, 0)} pages)`,
    "",
    `${fmt(w.svc, 2)} s`,
    "",
    `${fmt(w.sql, 2)} s`,
    `${fmt(w.svc / w.sql, 2)}x`,
    `${fmt(w.cpu, 2)} s`,
    `< ${WALK_SECONDS} s`,
    w.ok ? "PASS" : "MISS",
  ]);
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) =>
  "  " +
  cells
    .map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
    .join("  ")
    .trimEnd();
console.log(
  `  AssetService.list (svc) against hand-written SQL on the same database, pages of ${PAGE}, ${runs} runs each after a warm-up;`,
);
console.log("  [n]: the total the count answered. Walks: one pass each, total seconds.");
console.log(line(header));
for (const r of rows) console.log(line(r));

const missed = results.filter(({ r }) => !r.ok);
for (const { c } of allPlans ? results : missed) await printPlans(c);

const cpu = process.cpuUsage(cpuStart);
const rss = `${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB${buildSeconds > 0 ? " (with the build)" : ""}`;
const load = `${fmt(loadStart, 1)} at the start, ${fmt(loadavg()[0], 1)} at the end (${cpus().length} cores)`;
console.log(
  `\n  process CPU: ${fmt(cpuMs(cpu) / 1000, 1)} s (user ${fmt(cpu.user / 1e6, 1)} s, system ${fmt(cpu.system / 1e6, 1)} s)` +
    ` in ${fmt(process.uptime(), 1)} s; peak RSS ${rss}; load average ${load}`,
);
const passed = results.length - missed.length + walks.filter((w) => w.ok).length;
const total = results.length + walks.length;
const names = [...missed.map(({ c }) => c.name), ...walks.filter((w) => !w.ok).map((w) => `walk (${w.pages} pages)`)];
console.log(
  `query-1m (${backend.label}): ${passed}/${total} targets met` +
    (names.length > 0 ? `; missed: ${names.join("; ")}` : "; all met"),
);
await backend.close();
