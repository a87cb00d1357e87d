import { sql, type Kysely } from "kysely";
import type { Database } from "../store/metadata/schema.js";
import { TABLES } from "./tables.js";

/**
 * Refuses a source with a table the copy does not know (a newer schema than this list): moving
 * it would silently leave that table behind.
 */
export async function checkSchemaCovered(source: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'table'
    and name not like 'sqlite_%' and name not like 'kysely_%'`.execute(source);
  const known = new Set<string>(TABLES.map((t) => t.name));
  const unknown = rows.map((r) => r.name).filter((n) => !known.has(n));
  if (unknown.length > 0) throw new Error(`the source has tables this move does not copy: ${unknown.join(", ")}`);
}

/**
 * Refuses a target that holds another deployment: one whose organizations or URL-signing secret
 * are not the source's (a server already started on it made its own). An empty target, or one a
 * previous run of this move filled in part, passes.
 */
export async function checkTargetBelongs(source: Kysely<Database>, target: Kysely<Database>): Promise<void> {
  const sourceOrgs = new Set(
    (await source.selectFrom("organizations").select("org_id").execute()).map((r) => r.org_id),
  );
  const foreign = (await target.selectFrom("organizations").select("org_id").execute()).filter(
    (r) => !sourceOrgs.has(r.org_id),
  );
  const secret = (db: Kysely<Database>) =>
    db.selectFrom("settings").select("value").where("name", "=", "url-signing-secret").executeTakeFirst();
  const [mine, theirs] = [await secret(source), await secret(target)];
  if (foreign.length > 0 || (theirs && theirs.value !== mine?.value)) {
    throw new Error(
      "the target database already holds another deployment (a server was started on it?): " +
        "move into an empty database (drop and create it again)",
    );
  }
}
