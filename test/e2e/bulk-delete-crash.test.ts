import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { apiPaths, type Asset, type BulkAssetDeletionSession } from "@vi/protocol";
import { Client } from "@vi/sdk";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { openStoreReader } from "../helpers/test-database.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

const PER_FOLDER = 150;

/** What the database says, read directly: rows, their bytes, and the counters derived from them. */
async function storeFacts(dataDir: string) {
  const db = await openStoreReader(dataDir);
  try {
    const one = async <T>(q: string) => (await db.all(q))[0] as T;
    return {
      assets: (await db.all("select filename, sha256 from assets")) as { filename: string; sha256: string }[],
      blobs: ((await db.all("select sha256 from blobs")) as { sha256: string }[]).map((r) => r.sha256),
      orphanFields: (
        await one<{ n: number }>(
          "select count(*) as n from asset_fields where asset_seq not in (select seq from assets)",
        )
      ).n,
      fieldless: (
        await one<{ n: number }>(
          "select count(*) as n from assets where custom_metadata <> '{}' and seq not in (select asset_seq from asset_fields)",
        )
      ).n,
      counter: (await one<{ n: number }>("select asset_count as n from datasets")).n,
    };
  } finally {
    await db.close();
  }
}

async function blobFiles(dataDir: string): Promise<Set<string>> {
  const entries = await readdir(join(dataDir, "blobs"), { recursive: true, withFileTypes: true });
  return new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
}

/** SIGKILL in the middle of a bulk delete: every asset is whole or gone, and the session finishes after restart. */
describe("a server killed mid bulk delete", () => {
  let home: string;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it.skipIf(
    localOnly("counts blob files in the data folder after SIGKILL (a crash test against a bucket is still to write)"),
  )("leaves each asset whole or gone, then finishes the session after restart", async () => {
    home = await mkdtemp(join(tmpdir(), "vi-bulk-crash-"));
    const dataDir = join(home, "data");
    const bytes = new Map<string, Buffer>();
    for (const folder of ["drop", "keep"]) {
      await mkdir(join(home, "images", folder), { recursive: true });
      for (let i = 0; i < PER_FOLDER; i++) {
        const name = `${folder}/${String(i).padStart(4, "0")}.jpg`;
        const b = uniqueJpeg(56_000);
        bytes.set(name, b);
        await writeFile(join(home, "images", name), b);
      }
    }
    // Small batches make the delete long enough to be killed in the middle of.
    const env = { VI_DELETE_BATCH_SIZE: "1" };
    server = await startServerProcess(dataDir, env);
    const connect = (s: ServerProcess) =>
      new Client({ endpoint: s.url, organizationId: s.creds.organizationId, secretKey: s.creds.secretKey });
    let client = connect(server);
    const datasetId = (await client.datasets.create({ name: "bulk" })).datasetId;
    const uploaded = await client.assets.upload({
      datasetId,
      paths: join(home, "images"),
      customMetadata: { camera: "north", score: 0.5 },
      showProgress: false,
    });
    expect(uploaded.totalSucceeded).toBe(2 * PER_FOLDER);
    const headers = {
      authorization: `Bearer ${server.creds.secretKey}`,
      "organization-id": server.creds.organizationId,
      "content-type": "application/json",
    };
    const org = server.creds.organizationId;
    const opened = await fetch(`${server.url}${apiPaths.deleteManyAssetsSessions(org, datasetId)}`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        spec: {
          filter: { filename: { prefix: "drop/" } },
          metadataQuery: "score < 1",
          ruleQuery: null,
          strictQuery: true,
        },
      }),
    });
    expect(opened.status).toBe(201);
    const session = (await opened.json()) as BulkAssetDeletionSession;
    expect(session.status.selected).toBe(PER_FOLDER);
    const statusPath = apiPaths.deleteManyAssetsSession(org, datasetId, session.deleteManyAssetsSessionId);
    for (let deleted = 0; deleted < 10;) {
      await new Promise((r) => setTimeout(r, 2));
      const s = (await (await fetch(`${server.url}${statusPath}`, { headers })).json()) as BulkAssetDeletionSession;
      deleted = s.status.deleted;
      expect(deleted).toBeLessThan(PER_FOLDER); // killed before it could finish
    }
    await server.kill();
    server = undefined;
    await client.close();

    // Whole or gone: every row has its bytes and its field rows; the counter matches the rows.
    const mid = await storeFacts(dataDir);
    const onDisk = await blobFiles(dataDir);
    expect(mid.assets.length).toBeGreaterThan(PER_FOLDER);
    expect(mid.assets.length).toBeLessThan(2 * PER_FOLDER);
    for (const a of mid.assets) expect(onDisk.has(a.sha256), a.filename).toBe(true);
    expect(mid.orphanFields).toBe(0);
    expect(mid.fieldless).toBe(0);
    expect(mid.counter).toBe(mid.assets.length);

    server = await startServerProcess(dataDir, env);
    client = connect(server);
    const done = (await (
      await fetch(`${server.url}${statusPath}?waitFor=Finished&timeout=60`, { headers: { ...headers } })
    ).json()) as BulkAssetDeletionSession;
    expect(done.status.conditions.map((c) => c.status)).toEqual(["Reached", "Reached"]);
    expect(done.status.deleted).toBe(PER_FOLDER);

    // What is left is exactly the kept folder, and its bytes are intact.
    const left: Asset[] = [];
    for await (const page of client.assets.list({ datasetId, pageSize: 100, contents: true })) left.push(...page.items);
    expect(left.every((a) => a.filename.startsWith("keep/") && a.metadata.customMetadata.camera === "north")).toBe(
      true,
    );
    expect(left).toHaveLength(PER_FOLDER);
    for (const a of left.slice(0, 10)) {
      const got = Buffer.from(await (await fetch(a.contents!.asset!.url)).arrayBuffer());
      const want = bytes.get(a.filename)!;
      expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(want).digest("hex"));
    }
    await client.close();
    // A running server holds its database exclusively: the file is read with the server stopped.
    await server.stop();
    server = undefined;
    const after = await storeFacts(dataDir);
    expect(after.assets).toHaveLength(PER_FOLDER);
    expect(after.counter).toBe(PER_FOLDER);
    expect(after.orphanFields).toBe(0);
    expect(new Set(after.blobs)).toEqual(await blobFiles(dataDir));
    expect(await readFile(join(dataDir, "credentials.json"), "utf8")).toContain(org);
  });
});
