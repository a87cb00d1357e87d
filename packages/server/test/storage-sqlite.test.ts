import { mkdtemp, rename, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { storageFault } from "../src/errors.js";
import { openSqliteStore, sqliteDatabaseOf } from "../src/store/metadata/sqlite.js";
import type { KyselyMetadataStore } from "../src/store/metadata/kysely-store.js";
import { WalSync } from "../src/store/metadata/wal-sync.js";

/** An organization whose name needs pages of its own (overflow pages), so that inserting it grows the file. */
const bigOrganization = (id: string) => ({
  org: { orgId: id, name: "n".repeat(20_000), createdAt: 1 },
  key: { keyId: `${id}-key`, orgId: id, name: "k", keyHash: `${id}-hash`, createdAt: 1 },
});

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error("expected a failure");
}

/** Caps the file at its current size: any write that needs a new page fails with SQLITE_FULL, as on a full disk. */
function fillUp(database: BetterSqlite3.Database): void {
  database.pragma(`max_page_count = ${database.pragma("page_count", { simple: true }) as number}`);
}

describe("the SQLite store under storage faults (real SQLite)", () => {
  let dir: string;
  let store: KyselyMetadataStore | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "vi-sqlite-"));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("stock Kysely hides SQLITE_FULL behind 'cannot rollback - no transaction is active' (what this store fixes)", async () => {
    const database = new BetterSqlite3(join(dir, "stock.sqlite"));
    database.exec("create table t (x text)");
    fillUp(database);
    const db = new Kysely<{ t: { x: string } }>({ dialect: new SqliteDialect({ database }) });
    const failed = await failure(
      db.transaction().execute((tx) =>
        tx
          .insertInto("t")
          .values({ x: "y".repeat(20_000) })
          .execute(),
      ),
    );
    expect(failed.message).toBe("cannot rollback - no transaction is active");
    expect(storageFault(failed)).toBeUndefined();
    await db.destroy();
  });

  it("a transaction that fills the disk fails with SQLITE_FULL itself, nothing is half-written, and writes work once space is back", async () => {
    store = await openSqliteStore(join(dir, "metadata.sqlite"), { exclusive: true });
    const database = sqliteDatabaseOf(store)!;
    fillUp(database);
    const { org, key } = bigOrganization("o1");
    const failed = await failure(store.createOrganization(org, key));
    expect(failed.code).toBe("SQLITE_FULL");
    expect(storageFault(failed)).toMatchObject({ kind: "full", code: "SQLITE_FULL" });
    expect(database.inTransaction).toBe(false);
    expect(await store.getOrganization("o1")).toBeUndefined();
    expect(await store.countOrganizations()).toBe(0);

    database.pragma("max_page_count = 4294967294");
    await store.createOrganization(org, key);
    expect((await store.getOrganization("o1"))?.name).toBe(org.name);
  });

  it("the server's store keeps no memory-mapped WAL index (no -shm file), so another connection cannot read it while it is open", async () => {
    const file = join(dir, "metadata.sqlite");
    store = await openSqliteStore(file, { exclusive: true });
    const { org, key } = bigOrganization("o2");
    await store.createOrganization(org, key);
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(dir)).sort()).toEqual(["metadata.sqlite", "metadata.sqlite-wal"]);
    const other = new BetterSqlite3(file, { readonly: true });
    other.pragma("busy_timeout = 0");
    expect(() => other.prepare("select count(*) from organizations").get()).toThrow(/locked|busy/i);
    other.close();
  });

  it("after a failed WAL flush every later write is refused with that cause (none acknowledged without being durable); reads go on", async () => {
    const file = join(dir, "metadata.sqlite");
    store = await openSqliteStore(file, { exclusive: true });
    // SQLite keeps writing its WAL through the descriptor it holds; the flush opens the path,
    // which now leads to a device that cannot be flushed (fdatasync fails with EINVAL).
    await rename(`${file}-wal`, `${file}-wal-real`);
    await symlink("/dev/null", `${file}-wal`);
    const { org, key } = bigOrganization("o3");
    const first = await failure(store.createOrganization(org, key));
    expect(first.message).toMatch(/write-ahead log failed \(EINVAL\).*until the server restarts/);
    expect(storageFault(first)).toMatchObject({ kind: "io", code: "EIO" });
    const second = await failure(store.createOrganization(bigOrganization("o4").org, bigOrganization("o4").key));
    expect(second).toBe(first);
    // The first write did commit (it was only not flushed); the second never ran.
    expect(await store.getOrganization("o3")).toBeDefined();
    expect(await store.getOrganization("o4")).toBeUndefined();
    expect(await store.countOrganizations()).toBe(1);
  });

  it("WalSync: concurrent callers of a failed flush all get its error, and it stays failed", async () => {
    const wal = new WalSync("/dev/null");
    const results = await Promise.allSettled([wal.sync(), wal.sync(), wal.sync()]);
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(wal.failure).toBeDefined();
    await expect(wal.sync()).rejects.toBe(wal.failure);
    await wal.close();
  });
});

describe("storageFault: which errors are storage faults", () => {
  const errno = (code: string, syscall?: string) =>
    Object.assign(new Error(code), { code, ...(syscall ? { syscall } : {}) });
  const sqlite = (code: string) => new BetterSqlite3.SqliteError(code, code);

  it.each([
    [errno("ENOSPC", "write"), "full"],
    [errno("EDQUOT", "write"), "full"],
    [sqlite("SQLITE_FULL"), "full"],
    [errno("EROFS", "open"), "read-only"],
    [errno("EACCES", "open"), "read-only"],
    [errno("EPERM", "rename"), "read-only"],
    [sqlite("SQLITE_READONLY"), "read-only"],
    [sqlite("SQLITE_READONLY_DBMOVED"), "read-only"],
    [errno("EIO", "read"), "io"],
    [sqlite("SQLITE_IOERR_WRITE"), "io"],
    [sqlite("SQLITE_IOERR_FSYNC"), "io"],
    [new Error("wrapped", { cause: errno("ENOSPC", "write") }), "full"],
  ])("%s is %s", (err, kind) => {
    expect(storageFault(err)?.kind).toBe(kind);
  });

  it.each([
    [errno("EPERM")],
    [errno("EACCES")],
    [errno("ECONNRESET", "read")],
    [sqlite("SQLITE_CONSTRAINT_UNIQUE")],
    [new Error("no code")],
    ["not an error"],
  ])("%s is not", (err) => {
    expect(storageFault(err)).toBeUndefined();
  });
});
