import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import type { Database } from "./schema.js";
import { KyselyMetadataStore } from "./kysely-store.js";

/**
 * The embedded default: one SQLite file in WAL mode. synchronous=FULL because an asset is
 * acknowledged only once durable; WAL keeps readers off the writer's path.
 */
export async function openSqliteStore(file: string): Promise<KyselyMetadataStore> {
  mkdirSync(dirname(file), { recursive: true });
  const database = new BetterSqlite3(file);
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = FULL");
  database.pragma("foreign_keys = ON");
  database.pragma("busy_timeout = 5000");
  const store = new KyselyMetadataStore(new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), "sqlite");
  await store.migrate();
  return store;
}
