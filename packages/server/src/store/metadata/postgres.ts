import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";
import { KyselyMetadataStore } from "./kysely-store.js";

/** Connections per replica for requests; a few more are taken by locks and LISTEN (see coordination). */
const POOL_SIZE = 20;
const INT8_OID = 20;

/**
 * A pg pool that answers 64-bit integers (timestamps in ms, byte sizes, counts) as numbers, as
 * SQLite does: every such value is far below 2^53.
 */
export function newPool(url: string, max = POOL_SIZE): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection that the database drops (a restart, a failover) must not crash the process.
  pool.on("error", () => undefined);
  return pool;
}

/**
 * The metadata store on PostgreSQL: the same Kysely layer and migrations as SQLite. Commits are
 * durable when they return (synchronous_commit on, PostgreSQL's default), so there is no WAL flush of
 * our own. Several replicas may open the same database: migrations take Kysely's advisory lock,
 * and what must not interleave across replicas takes advisory locks (see the store's dialect).
 */
export async function openPostgresStore(url: string): Promise<KyselyMetadataStore> {
  const pool = newPool(url);
  const store = new KyselyMetadataStore(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), "postgres");
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** The URL with its password hidden, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable database URL)";
  }
}
