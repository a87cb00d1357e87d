import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import type { Database } from "./schema.js";
import { KyselyMetadataStore } from "./kysely-store.js";
import { WalSync } from "./wal-sync.js";

/**
 * The embedded default: one SQLite file in WAL mode.
 *
 * Durability without blocking: better-sqlite3 runs on the event loop, so with synchronous=FULL
 * every commit would stall all requests for an fsync. Instead commits run with
 * synchronous=NORMAL (written to the WAL, not yet flushed) and the store's `sync()` flushes the
 * WAL file from libuv's thread pool; callers acknowledge a write only after `sync()`, and
 * concurrent callers share one flush (group commit). A process crash loses nothing either way
 * (the WAL is in the page cache); after a power cut, only unacknowledged commits may be lost.
 */
export async function openSqliteStore(file: string): Promise<KyselyMetadataStore> {
  mkdirSync(dirname(file), { recursive: true });
  const database = new BetterSqlite3(file);
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("foreign_keys = ON");
  database.pragma("busy_timeout = 5000");
  cachePreparedStatements(database);
  const store = new KyselyMetadataStore(
    new Kysely<Database>({ dialect: new SqliteDialect({ database }) }),
    "sqlite",
    new WalSync(`${file}-wal`),
  );
  await store.migrate();
  return store;
}

/**
 * Kysely prepares every statement it runs; preparing costs more than running the small
 * statements of the upload path. The SQL text of a compiled Kysely query is stable, so one
 * prepared statement per text is reused (better-sqlite3 statements run synchronously, so no
 * two uses overlap).
 */
function cachePreparedStatements(database: BetterSqlite3.Database): void {
  const prepare = database.prepare.bind(database);
  const cache = new Map<string, BetterSqlite3.Statement>();
  database.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      // Bulk statements with many parameters vary in text; keep the cache bounded.
      if (cache.size < 2000) cache.set(source, statement);
    }
    return statement;
  }) as typeof database.prepare;
}
