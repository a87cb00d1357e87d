// The scale-out configuration of the tests (VI_TEST_BACKEND=scaleout): every server a test
// starts gets a PostgreSQL database of its own on the run's cluster (test/services/postgres.mjs,
// started by test/global-setup.ts, which exports VI_TEST_DATABASE_URL, an administrator's URL).
import { createHash, randomBytes } from "node:crypto";
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
    if (rowCount === 0) await c.query(`create database ${name}`).catch((err) => {
      if (err.code !== "42P04") throw err; // created meanwhile by another server on the folder
    });
  });
  return urlOf(name);
}

/** Environment for a server process on `dataDir`: VI_DATABASE_URL in scale-out, nothing otherwise. */
export async function serverEnv(dataDir) {
  return scaleout() ? { VI_DATABASE_URL: await databaseForDataDir(dataDir) } : {};
}
