import { existsSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type { Database } from "../store/metadata/schema.js";
import { openSqliteStore, sqliteDatabaseOf } from "../store/metadata/sqlite.js";
import { newPool, openPostgresStore, redactUrl } from "../store/metadata/postgres.js";
import type { KyselyMetadataStore } from "../store/metadata/kysely-store.js";

/** Thrown when the embedded server still runs on the data folder being moved. */
export class SourceInUseError extends Error {
  override readonly name = "SourceInUseError";
}

export interface OpenedSource {
  db: Kysely<Database>;
  close(): Promise<void>;
}

const isBusy = (err: unknown) => /^SQLITE_(BUSY|LOCKED)/.test((err as { code?: string }).code ?? "");

/**
 * Opens an embedded deployment's database for the move. A running server holds the file
 * exclusively, so a first read without waiting tells whether one runs. The move then holds the
 * file exclusively itself, as the server does: a server started meanwhile fails to open it
 * instead of taking uploads that the copy would miss. Opening runs the migrations of this build,
 * as the server's next start would, so that both sides have the same tables and columns.
 */
export async function openSource(dataDir: string): Promise<OpenedSource> {
  const file = join(dataDir, "metadata.sqlite");
  if (!existsSync(file)) throw new Error(`${dataDir} is not a Vi data folder (no metadata.sqlite)`);
  const inUse = new SourceInUseError(
    `${file} is in use: a Vi server is running on ${dataDir}. Stop it (and keep it stopped) before moving it`,
  );
  let probe: BetterSqlite3.Database | undefined;
  try {
    probe = new BetterSqlite3(file, { readonly: true, fileMustExist: true, timeout: 0 });
    probe.prepare("select count(*) from sqlite_master").get();
  } catch (err) {
    if (isBusy(err)) throw inUse;
    throw err;
  } finally {
    probe?.close();
  }
  let store: KyselyMetadataStore;
  try {
    store = await openSqliteStore(file, { exclusive: true });
  } catch (err) {
    if (isBusy(err)) throw inUse;
    throw err;
  }
  const database = sqliteDatabaseOf(store)!;
  // The store's own connection (the exclusive one), with a plain Kysely over it for table-generic SQL.
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, close: () => store.close() };
}

export interface OpenedTarget {
  db: Kysely<Database>;
  close(): Promise<void>;
}

/**
 * Opens the target PostgreSQL database: `openPostgresStore` runs the migrations (the same ones
 * as the source's, in PostgreSQL's types), then a small pool of its own copies the rows.
 */
export async function openTarget(url: string): Promise<OpenedTarget> {
  try {
    await (await openPostgresStore(url)).close();
  } catch (err) {
    throw new Error(`cannot open ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: newPool(url, 4) }) });
  return { db, close: () => db.destroy() };
}
