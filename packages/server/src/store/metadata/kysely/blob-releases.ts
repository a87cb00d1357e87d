import { num, type Db } from "./common.js";

/**
 * Bytes to delete (see migration 0004): a row per blob whose last reference went. Claimed like
 * processing jobs: the claim moves `run_after` to the end of a lease, so bytes whose releaser
 * died are due again, and on PostgreSQL several replicas take different rows.
 */

export async function claimBlobReleases(
  tx: Db,
  dialect: "sqlite" | "postgres",
  limit: number,
  leaseMs: number,
  now: number,
): Promise<string[]> {
  let due = tx
    .selectFrom("blob_releases")
    .select("sha256")
    .where("run_after", "<=", now)
    .orderBy("run_after")
    .limit(limit);
  if (dialect === "postgres") due = due.forUpdate().skipLocked();
  const rows = await tx
    .updateTable("blob_releases")
    .set((eb) => ({ run_after: now + leaseMs, attempts: eb("attempts", "+", 1) }))
    .where("sha256", "in", due)
    .returning("sha256")
    .execute();
  return rows.map((r) => r.sha256);
}

/** Ends releases whose bytes are gone (or referenced again). */
export async function forgetBlobReleases(tx: Db, sha256s: string[]): Promise<void> {
  if (sha256s.length > 0) await tx.deleteFrom("blob_releases").where("sha256", "in", sha256s).execute();
}

/** Makes releases due at `runAfter` (a delete that failed is tried again by the next release). */
export async function deferBlobReleases(tx: Db, sha256s: string[], runAfter: number): Promise<void> {
  if (sha256s.length > 0)
    await tx.updateTable("blob_releases").set({ run_after: runAfter }).where("sha256", "in", sha256s).execute();
}

export async function pendingBlobReleases(db: Db): Promise<number> {
  const row = await db
    .selectFrom("blob_releases")
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow();
  return num(row.n);
}
