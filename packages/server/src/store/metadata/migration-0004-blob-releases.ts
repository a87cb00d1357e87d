import type { Kysely } from "kysely";
import type { TextType } from "./migrations.js";

/**
 * 0004: bytes to delete, durably. The transaction that drops a blob's last reference also
 * records it here, so deleting the bytes is work in the database rather than in one process's
 * memory: the request that freed them deletes them at once and forgets the row; if that fails,
 * or the process dies first, any replica's releaser finds the row (claimed with a lease, like a
 * processing job) and tries again, checking under the blob's lock that nothing references the
 * bytes again.
 */
export async function addBlobReleases(db: Kysely<unknown>, big: "bigint" | "integer", text: TextType): Promise<void> {
  await db.schema
    .createTable("blob_releases")
    .addColumn("sha256", text, (c) => c.primaryKey())
    .addColumn("run_after", big, (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex("blob_releases_due_idx").on("blob_releases").columns(["run_after"]).execute();
}
