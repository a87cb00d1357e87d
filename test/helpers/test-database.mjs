// The scale-out configuration of the tests (VI_TEST_BACKEND=scaleout): every server a test
// starts gets a PostgreSQL database of its own on the run's cluster (test/services/postgres.mjs,
// started by test/global-setup.ts, which exports VI_TEST_DATABASE_URL, an administrator's URL).
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { URL } from "node:url";
import pg from "pg";

/** The administrator's URL of the run's PostgreSQL, or undefined in the embedded configuration. */
export const adminUrl = () => process.env.VI_TEST_DATABASE_URL || undefined;

/** True when the tests run against PostgreSQL. */
export const scaleout = () => adminUrl() !== undefined;

/**
 * For a test that only makes sense on the embedded store (local disk faults, SQLite file
 * damage): true in the scale-out configuration, with the reason logged once, for `skipIf`.
 */
export function embeddedOnly(reason) {
  if (!scaleout()) return false;
  console.info(`skipped in the scale-out configuration: ${reason}`);
  return true;
}

async function admin(work) {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function urlOf(name) {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, empty database; `drop()` removes it (closing what is still connected). */
export async function createTestDatabase(name = `vi_test_${randomBytes(6).toString("hex")}`) {
  await admin((c) => c.query(`create database ${name}`));
  return {
    url: urlOf(name),
    async drop() {
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/**
 * The database of a data folder, made on first use: a server restarted on the same folder (a
 * crash test, a CLI test) finds its data again. Dropped with the cluster at the end of the run.
 */
export async function databaseForDataDir(dataDir) {
  const name = `vi_dir_${createHash("sha256").update(dataDir).digest("hex").slice(0, 24)}`;
  await admin(async (c) => {
    const { rowCount } = await c.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount === 0)
      await c.query(`create database ${name}`).catch((err) => {
        if (err.code !== "42P04") throw err; // created meanwhile by another server on the folder
      });
  });
  return urlOf(name);
}

/** Environment for a server process on `dataDir`: VI_DATABASE_URL in scale-out, nothing otherwise. */
export async function serverEnv(dataDir) {
  return scaleout() ? { VI_DATABASE_URL: await databaseForDataDir(dataDir) } : {};
}

/** Every row of `tables` in the database at `url`, as text (for "this secret is stored nowhere" checks). */
export async function textOfTables(url, tables) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let text = "";
    for (const table of tables) {
      const { rows } = await client.query(`select t::text as row from ${table} t`);
      text += rows.map((r) => r.row).join("\n");
    }
    return text;
  } finally {
    await client.end();
  }
}

/**
 * Reads a stopped (or killed) server's metadata directly, in either configuration: the SQLite
 * file of its data folder, or the folder's PostgreSQL database. `all(sql)` answers rows with
 * 64-bit counts as numbers in both.
 */
export async function openStoreReader(dataDir) {
  if (scaleout()) {
    const client = new pg.Client({
      connectionString: await databaseForDataDir(dataDir),
      types: { getTypeParser: (oid, format) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format)) },
    });
    await client.connect();
    return { all: async (sql) => (await client.query(sql)).rows, close: () => client.end() };
  }
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(join(dataDir, "metadata.sqlite"), { readonly: true, fileMustExist: true });
  return { all: async (sql) => db.prepare(sql).all(), close: async () => db.close() };
}
