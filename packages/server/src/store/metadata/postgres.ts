import {
  Kysely,
  PostgresDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from "kysely";
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
  const store = new KyselyMetadataStore(
    new Kysely<Database>({ dialect: new NulSafePostgresDialect({ pool }) }),
    "postgres",
  );
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

/**
 * PostgreSQL text cannot hold U+0000, which SQLite stores and the API lets through in a few
 * places (a rejected file's name and the reason quoting it, custom metadata strings, annotation
 * tags). Bound strings carry U+FFFD in its place, so such a request is answered as on SQLite
 * instead of failing with a 500; the JSON columns keep the character escaped (\u0000) as sent.
 */
class NulSafePostgresDialect extends PostgresDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const inner = new WeakMap<DatabaseConnection, DatabaseConnection>();
    const unwrap = (c: DatabaseConnection) => inner.get(c) ?? c;
    return {
      init: () => driver.init(),
      destroy: () => driver.destroy(),
      async acquireConnection() {
        const connection = await driver.acquireConnection();
        const wrapped: DatabaseConnection = {
          executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
            return connection.executeQuery<R>(withoutNul(query));
          },
          streamQuery<R>(query: CompiledQuery, chunkSize?: number) {
            return connection.streamQuery<R>(withoutNul(query), chunkSize);
          },
        };
        inner.set(wrapped, connection);
        return wrapped;
      },
      beginTransaction: (c: DatabaseConnection, settings: TransactionSettings) =>
        driver.beginTransaction(unwrap(c), settings),
      commitTransaction: (c: DatabaseConnection) => driver.commitTransaction(unwrap(c)),
      rollbackTransaction: (c: DatabaseConnection) => driver.rollbackTransaction(unwrap(c)),
      releaseConnection: (c: DatabaseConnection) => driver.releaseConnection(unwrap(c)),
    };
  }
}

function withoutNul(query: CompiledQuery): CompiledQuery {
  if (!query.parameters.some((p) => typeof p === "string" && p.includes("\u0000"))) return query;
  const parameters = query.parameters.map((p) => (typeof p === "string" ? p.replaceAll("\u0000", "\ufffd") : p));
  return { ...query, parameters };
}
