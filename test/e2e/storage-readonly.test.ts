import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type Asset, type IngestionSession } from "@vi/protocol";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { embeddedOnly } from "../helpers/test-database.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

/** Whether this machine lets us make files immutable (root on a file system with attributes). */
function chattrWorks(): boolean {
  const dir = mkdtempSync(join(tmpdir(), "vi-chattr-"));
  const file = join(dir, "probe");
  writeFileSync(file, "x");
  try {
    if (spawnSync("chattr", ["+i", file]).status !== 0) return false;
    spawnSync("chattr", ["-i", file]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const chattr = (flag: "+i" | "-i", paths: string[]) => {
  const r = spawnSync("chattr", [flag, ...paths], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`chattr ${flag} failed: ${r.stderr}`);
};
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * Storage that refuses writes for real: files and folders made immutable (`chattr +i`) under a
 * running server process, the nearest this sandbox has to a read-only mount. Writes must answer
 * 503 with Retry-After and a message, reads must go on, the server must live (SQLite's
 * memory-mapped WAL index used to turn this into SIGBUS, without a log line), the cause must be
 * logged at error level, and everything must work again once the files are writable.
 */
describe.skipIf(!chattrWorks() || localOnly("makes the local blob folders immutable"))(
  "storage that refuses writes (immutable files)",
  () => {
    let home: string;
    let dataDir: string;
    let server: ServerProcess;
    let datasetId: string;
    const immutable = new Set<string>();

    const headers = () => ({
      authorization: `Bearer ${server.creds.secretKey}`,
      "organization-id": server.creds.organizationId,
      "content-type": "application/json",
    });
    const org = () => server.creds.organizationId;
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, { ...init, headers: headers() });
    const freeze = (paths: string[]) => {
      chattr("+i", paths);
      for (const p of paths) immutable.add(p);
    };
    const thaw = () => {
      if (immutable.size > 0) chattr("-i", [...immutable]);
      immutable.clear();
    };
    /**
     * The error-level line the server logged for a response (found by its request id). The log
     * reaches us through a pipe, possibly after the response: wait for it.
     */
    const loggedFor = async (output: string[], res: Response): Promise<Record<string, unknown>> => {
      const id = res.headers.get("x-request-id")!;
      for (;;) {
        const line = output.find((l) => l.includes('"level":50') && l.includes(id));
        if (line) return JSON.parse(line) as Record<string, unknown>;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const openSession = async (bytes: Buffer, filename: string) => {
      const res = await api(apiPaths.ingestionSessions(org(), datasetId), {
        method: "POST",
        body: JSON.stringify({
          spec: {
            kind: "Upload",
            failureMode: "FailAfterAll",
            assets: [{ filename, mime: "image/jpeg", size: bytes.length, crc32c: crc32c(bytes) | 0, kind: "Image" }],
          },
        }),
      });
      return res;
    };
    const put = (session: IngestionSession, bytes: Buffer) =>
      fetch(session.status.assets[0]!.upload.url, { method: "PUT", body: bytes });
    const assets = async (): Promise<Asset[]> => {
      const res = await api(`${apiPaths.assets(org(), datasetId)}?contents=y`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: Asset[] }).items;
    };

    beforeAll(async () => {
      home = await mkdtemp(join(tmpdir(), "vi-readonly-"));
      dataDir = join(home, "data");
      // Processing is off: the staging folder is checked empty at given moments, and thumbnails
      // staged in the background would be there.
      server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
      const res = await api(apiPaths.datasets(org()), { method: "POST", body: JSON.stringify({ name: "ro" }) });
      const id = ((await res.json()) as { datasetId: string }).datasetId;
      datasetId = id.includes("_") ? id.slice(id.indexOf("_") + 1) : id;
      const bytes = uniqueJpeg(60_000);
      const session = (await (await openSession(bytes, "first.jpg")).json()) as IngestionSession;
      expect((await put(session, bytes)).status).toBe(200);
    });
    afterAll(async () => {
      thaw();
      await server?.stop();
      if (home) await rm(home, { recursive: true, force: true });
    });

    const databaseFiles = async (dir: string) =>
      (await readdir(dir)).filter((f) => f.startsWith("metadata.sqlite")).map((f) => join(dir, f));

    const sqliteFiles = embeddedOnly("immutable SQLite database files (PostgreSQL keeps no files in the data dir)");

    it.skipIf(sqliteFiles)(
      "database files made immutable under a running server: it answers 503 and lives on (no SIGBUS)",
      async () => {
        // The sequence that killed the server with SIGBUS and no log line: a fresh start, a write,
        // the files made immutable, another write (SQLite touched its memory-mapped -shm file).
        const dir = join(home, "fresh");
        const fresh = await startServerProcess(dir);
        const call = (name: string) =>
          fetch(`${fresh.url}${apiPaths.datasets(fresh.creds.organizationId)}`, {
            method: name ? "POST" : "GET",
            headers: {
              authorization: `Bearer ${fresh.creds.secretKey}`,
              "organization-id": fresh.creds.organizationId,
              "content-type": "application/json",
            },
            ...(name ? { body: JSON.stringify({ name }) } : {}),
          });
        try {
          expect((await call("a")).status).toBe(201);
          const files = await databaseFiles(dir);
          freeze(files);
          for (const name of ["b", "c", "d"]) {
            const res = await call(name);
            expect(res.status).toBe(503);
            expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
            expect(await loggedFor(fresh.output, res)).toMatchObject({
              storage: { code: expect.stringMatching(/^SQLITE_IOERR/) as unknown },
            });
          }
          expect((await call("")).status).toBe(200);
          thaw();
          expect((await call("e")).status).toBe(201);
          // How: no memory-mapped WAL index (-shm) at all; the database is this process's alone.
          expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(["metadata.sqlite", "metadata.sqlite-wal"]);
        } finally {
          thaw();
          await fresh.stop();
        }
      },
    );

    it.skipIf(sqliteFiles)(
      "immutable database files: writes answer 503 and reads keep working, bytes included; the server logs why",
      async () => {
        const files = await databaseFiles(dataDir);
        const [before] = await assets();
        try {
          freeze(files);
          for (const attempt of [1, 2]) {
            const res = await api(apiPaths.datasets(org()), {
              method: "POST",
              body: JSON.stringify({ name: `x${attempt}` }),
            });
            expect(res.status).toBe(503);
            expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
            const body = (await res.json()) as { error: string; message: string };
            expect(body.error).toBe("ServiceUnavailable");
            expect(body.message).toMatch(/storage (failed with an I\/O error|is read-only)/);
            expect(await loggedFor(server.output, res)).toMatchObject({
              storage: { code: expect.stringMatching(/^SQLITE_/) as unknown },
            });
          }
          const bytes = uniqueJpeg(61_000);
          expect((await openSession(bytes, "second.jpg")).status).toBe(503);
          expect((await api(apiPaths.asset(org(), datasetId, before!.assetId), { method: "DELETE" })).status).toBe(503);
          // Reads: listings, the asset, its bytes.
          const [still] = await assets();
          expect(still!.assetId).toBe(before!.assetId);
          const got = Buffer.from(await (await fetch(still!.contents!.asset!.url)).arrayBuffer());
          expect(got.length).toBe(before!.metadata.fileSize);
          expect(sha256(got)).toBe(before!.metadata.hash.contents);
        } finally {
          thaw();
        }
        const again = await api(apiPaths.datasets(org()), { method: "POST", body: JSON.stringify({ name: "after" }) });
        expect(again.status).toBe(201);
      },
    );

    it("an immutable staging folder: a PUT answers 503 saying the storage is read-only; the retried PUT commits", async () => {
      const bytes = uniqueJpeg(70_000);
      const opened = await openSession(bytes, "third.jpg");
      expect(opened.status).toBe(201);
      const session = (await opened.json()) as IngestionSession;
      try {
        freeze([join(dataDir, "staging")]);
        const res = await put(session, bytes);
        expect(res.status).toBe(503);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(((await res.json()) as { message: string }).message).toMatch(/storage is read-only/);
        expect(await loggedFor(server.output, res)).toMatchObject({ storage: { kind: "read-only", code: "EPERM" } });
        expect((await assets()).length).toBe(1);
      } finally {
        thaw();
      }
      expect((await put(session, bytes)).status).toBe(200);
      const third = (await assets()).find((a) => a.filename === "third.jpg");
      expect(sha256(Buffer.from(await (await fetch(third!.contents!.asset!.url)).arrayBuffer()))).toBe(sha256(bytes));
    });

    it("an immutable blob folder: publishing fails with 503, nothing half-stored; the retried PUT commits", async () => {
      const bytes = uniqueJpeg(80_000);
      const session = (await (await openSession(bytes, "fourth.jpg")).json()) as IngestionSession;
      try {
        freeze([join(dataDir, "blobs", sha256(bytes).slice(0, 2))]);
        const res = await put(session, bytes);
        expect(res.status).toBe(503);
        expect(await readdir(join(dataDir, "staging"))).toEqual([]);
      } finally {
        thaw();
      }
      expect((await put(session, bytes)).status).toBe(200);
      expect((await assets()).map((a) => a.filename).sort()).toEqual(["first.jpg", "fourth.jpg", "third.jpg"]);
    });
  },
);
