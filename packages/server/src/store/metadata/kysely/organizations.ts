import type { Selectable } from "kysely";
import type { OrganizationRecord, SecretKeyRecord } from "../records.js";
import type { Database } from "../schema.js";
import { advisoryLocks, num, type Db } from "./common.js";

/** The organization aggregate: organizations and their secret keys (stored as digests). */

/**
 * Creates an organization with its first key. With `onlyIfFirst`, only on a database without
 * one: replicas starting together on an empty PostgreSQL database take a lock here, so the
 * second waits for the first to commit, then sees its organization and joins it.
 */
export async function createOrganization(
  tx: Db,
  dialect: "sqlite" | "postgres",
  org: OrganizationRecord,
  firstKey: SecretKeyRecord,
  onlyIfFirst: boolean,
): Promise<boolean> {
  if (onlyIfFirst) {
    if (dialect === "postgres") await advisoryLocks(tx, ["first-organization"]);
    if ((await countOrganizations(tx)) > 0) return false;
  }
  await tx
    .insertInto("organizations")
    .values({ org_id: org.orgId, name: org.name, created_at: org.createdAt })
    .execute();
  await insertKey(tx, firstKey);
  return true;
}

export async function getOrganization(db: Db, orgId: string): Promise<OrganizationRecord | undefined> {
  const row = await db.selectFrom("organizations").selectAll().where("org_id", "=", orgId).executeTakeFirst();
  return row && { orgId: row.org_id, name: row.name, createdAt: num(row.created_at) };
}

export async function countOrganizations(db: Db): Promise<number> {
  const row = await db
    .selectFrom("organizations")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow();
  return num(row.n);
}

export async function insertKey(db: Db, k: SecretKeyRecord): Promise<void> {
  await db
    .insertInto("secret_keys")
    .values({ key_id: k.keyId, org_id: k.orgId, name: k.name, key_hash: k.keyHash, created_at: k.createdAt })
    .execute();
}

export async function findSecretKeyByHash(db: Db, keyHash: string): Promise<SecretKeyRecord | undefined> {
  const row = await db.selectFrom("secret_keys").selectAll().where("key_hash", "=", keyHash).executeTakeFirst();
  return row && toKey(row);
}

export async function listSecretKeys(db: Db, orgId: string): Promise<SecretKeyRecord[]> {
  const rows = await db
    .selectFrom("secret_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .orderBy("created_at")
    .orderBy("key_id")
    .execute();
  return rows.map(toKey);
}

/** Deletes a key unless it is the organization's last one. */
export async function deleteSecretKey(tx: Db, orgId: string, keyId: string): Promise<"deleted" | "last" | "missing"> {
  const keys = await tx.selectFrom("secret_keys").select("key_id").where("org_id", "=", orgId).execute();
  if (!keys.some((k) => k.key_id === keyId)) return "missing";
  if (keys.length === 1) return "last";
  await tx.deleteFrom("secret_keys").where("org_id", "=", orgId).where("key_id", "=", keyId).execute();
  return "deleted";
}

function toKey(r: Selectable<Database["secret_keys"]>): SecretKeyRecord {
  return { keyId: r.key_id, orgId: r.org_id, name: r.name, keyHash: r.key_hash, createdAt: num(r.created_at) };
}
