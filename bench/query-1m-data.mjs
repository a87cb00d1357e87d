// The database of bench/query-1m.mjs: one SQLite store (real migrations and pragmas) holding a
// dataset of N assets with custom metadata and a decoy dataset of N/10 in the same organization,
// rows inserted directly (no bytes). Kept between runs: a settings row marks it complete, another
// says which planner statistics it holds.
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { openSqliteStore } from "../packages/server/dist/store/metadata/sqlite.js";
import { fieldRows, fold } from "../packages/server/dist/store/metadata/migrations.js";
import { TMP } from "./lib.mjs";

export const ORG = "benchorg0query1m0000000000";
export const DATASET = "q1mdataset0000000000";
export const DECOY = "q1mdecoy000000000000";
const MARKER = "bench.query-1m";
const STATS = "bench.query-1m.stats";
const FOLDER_SIZE = 500; // assets per upload of one camera-day folder
const YEAR_START = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;

/** Deterministic PRNG (mulberry32), so every build holds the same rows. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
const HEX = "0123456789abcdef";
const pick = (rand, items) => items[Math.floor(rand() * items.length)];
const chars = (rand, alphabet, n) => {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
};
/** A value by cumulative weight: [[value, weight], ...], weights summing to 1. */
const weighted = (rand, table) => {
  let u = rand();
  for (const [value, w] of table) if ((u -= w) < 0) return value;
  return table[table.length - 1][0];
};

const MIME = [
  ["image/jpeg", 0.6],
  ["image/png", 0.25],
  ["image/webp", 0.1],
  ["image/tiff", 0.05],
];
const EXT = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/tiff": "tif" };
const SIZES = [
  [640, 480],
  [1280, 720],
  [1920, 1080],
  [2048, 1536],
  [3840, 2160],
  [4032, 3024],
  [1024, 1024],
];
const SPLIT = [
  ["train", 0.8],
  ["val", 0.1],
  ["test", 0.1],
];
const WEATHER = [
  ["sunny", 0.5],
  ["cloudy", 0.3],
  ["rain", 0.149],
  ["fog", 0.05],
  ["hail", 0.001],
];

/**
 * Opens (building it first if needed) the bench database of `assets` assets, with planner
 * statistics of `stats` kind (see useStatistics). Answers the file, the seconds the build took
 * (0 when an existing complete database was reused) and those the statistics took (0 when kept).
 */
export async function benchDatabase(assets, stats) {
  const dir = join(TMP, "query-1m");
  const file = join(dir, `metadata-${assets}.sqlite`);
  const decoy = Math.floor(assets / 10);
  // The migrations may change their tables or indexes in place: a database made by other ones is rebuilt.
  const spec = JSON.stringify({
    version: 1,
    assets,
    decoy,
    schema: await schemaFingerprint(join(dir, `schema-${process.pid}.sqlite`)),
  });
  const existing = await openSqliteStore(file).catch((err) => {
    // The bench holds the file exclusively, as the server does.
    if (err?.code === "SQLITE_BUSY") throw new Error(`${file} is in use (another run of this benchmark?)`);
    throw err;
  });
  await existing.close();
  const probe = new BetterSqlite3(file, { readonly: true });
  const marker = probe.prepare("select value from settings where name = ?").get(MARKER);
  probe.close();
  if (marker?.value === spec) return { file, buildSeconds: 0, statsSeconds: await useStatistics(file, stats) };

  for (const suffix of ["", "-wal", "-shm"]) await rm(file + suffix, { force: true });
  const t0 = performance.now();
  const store = await openSqliteStore(file);
  const t = YEAR_START;
  await store.createOrganization(
    { orgId: ORG, name: "bench", createdAt: t },
    { keyId: "benchkey", orgId: ORG, name: "bench", keyHash: "not-a-key-hash", createdAt: t },
  );
  for (const [datasetId, name] of [
    [DATASET, "one million"],
    [DECOY, "decoy"],
  ]) {
    await store.createDataset({
      orgId: ORG,
      datasetId,
      name,
      description: null,
      type: "phrase-grounding",
      content: "Image",
      createdAt: t,
      lastAccessed: t,
    });
  }
  await store.close();
  load(file, assets, decoy);
  const db = new BetterSqlite3(file);
  db.prepare("insert into settings (name, value) values (?, ?)").run(MARKER, spec);
  db.close();
  const buildSeconds = (performance.now() - t0) / 1000;
  return { file, buildSeconds, statsSeconds: await useStatistics(file, stats) };
}

/**
 * The planner statistics (sqlite_stat1, sqlite_stat4) the queries run with: "server", those a
 * running server has, made by openSqliteStore's own PRAGMA optimize (bounded by its
 * analysis_limit); or "full", a complete ANALYZE. Answers the seconds it took to make them.
 */
async function useStatistics(file, kind) {
  let db = new BetterSqlite3(file);
  const current = db.prepare("select value from settings where name = ?").get(STATS)?.value;
  if (current === kind) {
    db.close();
    return 0;
  }
  const t0 = performance.now();
  if (kind === "full") db.exec("ANALYZE");
  else db.exec("drop table if exists sqlite_stat1; drop table if exists sqlite_stat4");
  db.close();
  if (kind === "server") await (await openSqliteStore(file)).close();
  db = new BetterSqlite3(file);
  db.prepare(
    "insert into settings (name, value) values (?, ?) on conflict (name) do update set value = excluded.value",
  ).run(STATS, kind);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return (performance.now() - t0) / 1000;
}

/** A hash of the schema the current migrations make, read from an empty store. */
async function schemaFingerprint(file) {
  const remove = () => Promise.all(["", "-wal", "-shm"].map((suffix) => rm(file + suffix, { force: true })));
  await remove();
  await (await openSqliteStore(file)).close();
  const db = new BetterSqlite3(file, { readonly: true });
  const schema = db.prepare("select type, name, tbl_name, sql from sqlite_master order by type, name").all();
  db.close();
  await remove();
  return createHash("sha256").update(JSON.stringify(schema)).digest("hex").slice(0, 16);
}

/** Inserts the assets of both datasets in upload order: folders of 500, the two datasets interleaved. */
function load(file, assets, decoy) {
  const db = new BetterSqlite3(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -4000000"); // everything in memory while loading; queries run with the default
  const insertAsset = db.prepare(`insert into assets (asset_id, org_id, dataset_id, filename, sha256, file_size,
    mime_type, width, height, raw_width, raw_height, orientation, frames, custom_metadata, created_at, updated_at,
    contents_updated_at, generation, status, filename_folded, annotation_count)
    values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, 1, 'uploaded', ?, 0)`);
  const insertField = db.prepare(`insert into asset_fields (asset_seq, key, org_id, dataset_id, value_type, str_value,
    str_folded, num_value) values (?, ?, ?, ?, ?, ?, ?, ?)`);
  // Secondary indexes are built once after the rows (a sort) rather than row by row: the same
  // definitions, read back from the schema the migrations made.
  const indexes = db
    .prepare(
      "select name, sql from sqlite_master where type = 'index' and tbl_name in ('assets', 'asset_fields') and sql is not null",
    )
    .all();
  for (const { name } of indexes) db.exec(`drop index "${name}"`);
  const rand = prng(20250601);
  const folders = [
    ...Array.from({ length: Math.ceil(assets / FOLDER_SIZE) }, () => DATASET),
    ...Array.from({ length: Math.ceil(decoy / FOLDER_SIZE) }, () => DECOY),
  ];
  for (let i = folders.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [folders[i], folders[j]] = [folders[j], folders[i]];
  }
  const left = { [DATASET]: assets, [DECOY]: decoy };
  const written = { [DATASET]: 0, [DECOY]: 0 };
  const total = assets + decoy;
  const folder = (f) => {
    const datasetId = folders[f];
    const camera = Math.floor(rand() * 20);
    const dayIndex = Math.floor((f / folders.length) * 365);
    const day = new Date(YEAR_START + dayIndex * DAY).toISOString().slice(0, 10);
    // Some cameras write upper-case names, some operators upper-case folders.
    const dir = `${rand() < 0.1 ? "CAM" : "cam"}${camera}/${day}`;
    const upper = camera % 4 === 0;
    const n = Math.min(FOLDER_SIZE, left[datasetId]);
    left[datasetId] -= n;
    for (let k = 0; k < n; k++) {
      const index = written[datasetId]++;
      const mime = weighted(rand, MIME);
      const stem = String(index).padStart(7, "0");
      const filename = upper ? `${dir}/IMG_${stem}.${EXT[mime].toUpperCase()}` : `${dir}/${stem}.${EXT[mime]}`;
      const [w, h] = pick(rand, SIZES);
      const rotated = rand() < 0.15;
      const createdAt = Math.floor(YEAR_START + ((written[DATASET] + written[DECOY]) / total) * 365 * DAY);
      const custom = {
        camera: `cam-${String(camera).padStart(2, "0")}`,
        score: Math.round(rand() * 10_000) / 10_000,
        reviewed: rand() < 0.3,
        split: weighted(rand, SPLIT),
        weather: weighted(rand, WEATHER),
      };
      const { lastInsertRowid } = insertAsset.run(
        chars(rand, ALPHABET, 20),
        ORG,
        datasetId,
        filename,
        chars(rand, HEX, 64),
        Math.floor(20_000 * Math.pow(250, rand())), // 20 KB .. 5 MB, log-uniform
        mime,
        rotated ? h : w,
        rotated ? w : h,
        w,
        h,
        rotated ? 6 : 1,
        JSON.stringify(custom),
        createdAt,
        createdAt,
        createdAt,
        fold(filename),
      );
      for (const r of fieldRows(Number(lastInsertRowid), ORG, datasetId, custom)) {
        insertField.run(
          r.asset_seq,
          r.key,
          r.org_id,
          r.dataset_id,
          r.value_type,
          r.str_value,
          r.str_folded,
          r.num_value,
        );
      }
    }
  };
  const batch = db.transaction((from, to) => {
    for (let f = from; f < to; f++) folder(f);
  });
  for (let f = 0; f < folders.length; f += 100) batch(f, Math.min(f + 100, folders.length));
  const setCount = db.prepare("update datasets set asset_count = ? where org_id = ? and dataset_id = ?");
  setCount.run(assets, ORG, DATASET);
  setCount.run(decoy, ORG, DECOY);
  for (const { sql } of indexes) db.exec(sql);
  db.close();
}
