import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import {
  type CompiledQuery,
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from "kysely";
import type { Database } from "./schema.js";
import { KyselyMetadataStore } from "./kysely-store.js";
import { WalSync } from "./wal-sync.js";

export interface SqliteStoreOptions {
  /**
   * Hold the database for this process alone (`locking_mode=EXCLUSIVE`), so that SQLite keeps
   * its WAL index in heap memory instead of a memory-mapped `-shm` file. A fault of a mapped
   * file (made immutable, on a full disk) kills the process with SIGBUS and no log line; a
   * fault of a written file is an error SQLite reports. The server opens its store this way,
   * so no other connection can read the file while it runs (tools read it once it stopped).
   */
  exclusive?: boolean;
}

/**
 * The embedded default: one SQLite file in WAL mode.
 *
 * Durability without blocking: better-sqlite3 runs on the event loop, so with synchronous=FULL
 * every commit would stall all requests for an fsync. Instead commits run with
 * synchronous=NORMAL (written to the WAL, not yet flushed) and the store's `sync()` flushes the
 * WAL file from libuv's thread pool; callers acknowledge a write only after `sync()`, and
 * concurrent callers share one flush (group commit). A process crash loses nothing either way
 * (the WAL is in the page cache); after a power cut, only unacknowledged commits may be lost.
 * A failed flush stops all later writes (see WalSync) while reads go on.
 */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<KyselyMetadataStore> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // The database holds the URL-signing secret: readable by the server's user only, whatever the
  // folder's mode. SQLite gives the -wal and -shm files the database file's permissions.
  closeSync(openSync(file, "a", 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  const database = new BetterSqlite3(file);
  // Before the first access in WAL mode, or SQLite maps the -shm file anyway.
  if (options.exclusive) database.pragma("locking_mode = EXCLUSIVE");
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("foreign_keys = ON");
  database.pragma("busy_timeout = 5000");
  // No memory-mapped reads of the database file either (the default, said out loud).
  database.pragma("mmap_size = 0");
  cachePreparedStatements(database);
  const wal = new WalSync(`${file}-wal`);
  const store = new KyselyMetadataStore(
    new Kysely<Database>({ dialect: new FaultAwareSqliteDialect(database, wal) }),
    "sqlite",
    wal,
  );
  await store.migrate();
  // Planner statistics (sqlite_stat1) for the tables that need them, bounded in cost; the
  // janitor refreshes them hourly through store.maintain(). SQLite's recommended practice.
  database.pragma("analysis_limit = 1000");
  database.pragma("optimize = 0x10002");
  databases.set(store, database);
  return store;
}

const databases = new WeakMap<object, BetterSqlite3.Database>();

/**
 * The SQLite connection under a store this module opened, for tests that need to reach past
 * the store (e.g. `PRAGMA max_page_count`, which makes SQLite answer SQLITE_FULL as on a full
 * disk). Not for the server's own use.
 */
export function sqliteDatabaseOf(store: object): BetterSqlite3.Database | undefined {
  return databases.get(store);
}

/**
 * Kysely's SQLite dialect with two fixes for storage faults:
 *
 * - After SQLITE_FULL, SQLITE_IOERR and a few others SQLite has already rolled the transaction
 *   back itself; Kysely's ROLLBACK then fails with "cannot rollback - no transaction is active"
 *   and that error replaces the real one. The rollback is skipped when no transaction is open,
 *   so the caller sees what really happened.
 * - Once a WAL flush has failed, no statement that writes runs any more (WalSync's reason).
 */
class FaultAwareSqliteDialect extends SqliteDialect {
  constructor(
    private readonly database: BetterSqlite3.Database,
    private readonly wal: WalSync,
  ) {
    super({ database });
  }

  override createDriver(): Driver {
    const { database, wal } = this;
    return new (class extends SqliteDriver {
      override async acquireConnection(): Promise<DatabaseConnection> {
        const connection = await super.acquireConnection();
        return {
          executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
            const stopped = wal.failure;
            if (stopped && query.sql !== "rollback" && writes(database, query.sql)) return Promise.reject(stopped);
            return connection.executeQuery<R>(query);
          },
          streamQuery: connection.streamQuery.bind(connection),
        };
      }

      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        if (!database.inTransaction) return;
        await super.rollbackTransaction(connection);
      }
    })({ database });
  }
}

function writes(database: BetterSqlite3.Database, sql: string): boolean {
  try {
    return !database.prepare(sql).reader;
  } catch {
    return true;
  }
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
