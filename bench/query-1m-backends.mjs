// The stores bench/query-1m.mjs measures, and the hand-written SQL beside each: SQLite (the bench
// database itself, opened as the server opens it) or PostgreSQL (the same rows copied in by
// `vi-cli migrate`'s row copier, then ANALYZE). Each answers the same small interface, so the
// cases, the measuring and the table are one code for both.
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import { openSqliteStore, sqliteDatabaseOf } from "../packages/server/dist/store/metadata/sqlite.js";
import { newPool, openPostgresStore } from "../packages/server/dist/store/metadata/postgres.js";
import { KyselyMetadataStore } from "../packages/server/dist/store/metadata/kysely-store.js";
import { copyRows } from "../packages/server/dist/migrate/copy-rows.js";
import { adminQuery, benchPostgres } from "./lib.mjs";

const MARKER = "bench.query-1m";
const PG_MARKER = "bench.query-1m.postgres";

/**
 * The backend: { label, store, all(text, params), plan(text, params), logged(log), close() }.
 * `all` runs a hand-written statement (written with `?` placeholders, SQLite's syntax) and
 * answers its rows; `plan` its plan's lines; `logged` is the store again over the same database
 * with Kysely's query log, for printing the service's SQL.
 */
export async function openBackend(kind, file) {
  return kind === "postgres" ? openPostgres(file) : openSqlite(file);
}

async function openSqlite(file) {
  // Opened as the server opens it: exclusively (no other connection can read the file meanwhile).
  const store = await openSqliteStore(file, { exclusive: true });
  // The hand-written side runs on the store's own connection (same page cache), statements prepared once.
  const hand = sqliteDatabaseOf(store);
  const prepared = new Map();
  const stmt = (text) => {
    let s = prepared.get(text);
    if (!s) prepared.set(text, (s = hand.prepare(text)));
    return s;
  };
  return {
    label: "SQLite",
    store,
    all: async (text, params) => stmt(text).all(...params),
    async plan(text, params) {
      const rows = hand.prepare(`explain query plan ${text}`).all(...params);
      const depth = new Map([[0, 0]]);
      return rows.map((r) => {
        depth.set(r.id, (depth.get(r.parent) ?? 0) + 1);
        return `${"  ".repeat(depth.get(r.id))}${r.detail}`;
      });
    },
    logged: (log) =>
      new KyselyMetadataStore(new Kysely({ dialect: new SqliteDialect({ database: hand }), log }), "sqlite"),
    close: () => store.close(),
  };
}

/**
 * SQLite's hand-written SQL in PostgreSQL's: numbered placeholders, and a plain join where
 * SQLite's is a CROSS JOIN (there it fixes the join order; PostgreSQL's CROSS JOIN takes no ON).
 */
function toPostgres(text) {
  let i = 0;
  return text.replace(/\?/g, () => `$${++i}`).replace(/\bcross join\b/gi, "join");
}

async function openPostgres(file) {
  const url = await benchDatabaseUrl();
  const spec = readSpec(file);
  const probe = newPool(url, 1);
  const marker = await probe
    .query("select value from settings where name = $1", [PG_MARKER])
    .then((r) => r.rows[0]?.value)
    .catch(() => undefined);
  await probe.end();
  let loadSeconds = 0;
  if (marker !== spec) loadSeconds = await load(file, url, spec);

  const store = await openPostgresStore(url);
  // The hand-written side: one connection, each statement prepared once (a named statement).
  const hand = newPool(url, 1);
  const names = new Map();
  const query = async (text, params) => {
    const pgText = toPostgres(text);
    let name = names.get(pgText);
    if (!name) names.set(pgText, (name = `hand${names.size}`));
    return (await hand.query({ name, text: pgText, values: params })).rows;
  };
  const logPool = newPool(url, 2);
  return {
    label: "PostgreSQL",
    loadSeconds,
    store,
    all: query,
    async plan(text, params) {
      const { rows } = await hand.query({ text: `explain ${toPostgres(text)}`, values: params });
      return rows.map((r) => `  ${r["QUERY PLAN"]}`);
    },
    logged: (log) =>
      new KyselyMetadataStore(new Kysely({ dialect: new PostgresDialect({ pool: logPool }), log }), "postgres"),
    async close() {
      await store.close();
      await hand.end();
      await logPool.end().catch(() => undefined);
    },
  };
}

/** VI_BENCH_DATABASE_URL (a database this benchmark may wipe and keeps between runs), else the run's own cluster. */
async function benchDatabaseUrl() {
  if (process.env.VI_BENCH_DATABASE_URL) return process.env.VI_BENCH_DATABASE_URL;
  const cluster = await benchPostgres();
  await adminQuery("create database query1m");
  return cluster.url.replace(/\/postgres$/, "/query1m");
}

/** What the SQLite bench database holds (its own marker: the size and the schema it was built with). */
function readSpec(file) {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    return db.prepare("select value from settings where name = ?").get(MARKER).value;
  } finally {
    db.close();
  }
}

/**
 * Fills the database from the SQLite bench database: the schema wiped and made again by the
 * migrations, the secondary indexes of the two large tables dropped while the rows go in and made
 * again after (a sort each, as the SQLite build does), then ANALYZE, then the marker.
 */
async function load(file, url, spec) {
  const t0 = performance.now();
  const admin = newPool(url, 1);
  await admin.query("drop schema public cascade; create schema public");
  await (await openPostgresStore(url)).close();
  const { rows: indexes } = await admin.query(`select indexname, indexdef from pg_indexes
    where schemaname = 'public' and tablename in ('assets', 'asset_fields')
      and not exists (select 1 from pg_constraint c where c.conname = indexname)`);
  for (const { indexname } of indexes) await admin.query(`drop index "${indexname}"`);

  const source = new Kysely({ dialect: new SqliteDialect({ database: new BetterSqlite3(file, { readonly: true }) }) });
  // Nothing here needs to survive a crash of the machine: commits need not wait for the disk.
  const loadUrl = `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent("-c synchronous_commit=off")}`;
  const target = new Kysely({ dialect: new PostgresDialect({ pool: newPool(loadUrl, 2) }) });
  let rows = 0;
  let shown = performance.now();
  await copyRows(source, target, {
    chunkRows: 2000,
    onChunk: (table, n) => {
      rows += n;
      if (performance.now() - shown > 10_000) {
        process.stderr.write(`  copying to PostgreSQL: ${rows.toLocaleString("en-US")} rows (${table})\n`);
        shown = performance.now();
      }
    },
  });
  await source.destroy();
  await target.destroy();
  for (const { indexdef } of indexes) await admin.query(indexdef);
  await admin.query("analyze");
  await admin.query(
    "insert into settings (name, value) values ($1, $2) on conflict (name) do update set value = excluded.value",
    [PG_MARKER, spec],
  );
  await admin.end();
  return (performance.now() - t0) / 1000;
}
