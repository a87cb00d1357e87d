import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type Annotation, type Asset, type Dataset } from "@vi/sdk";
import { startServer, type RunningServer } from "@vi/server";
import { FIXTURES } from "../helpers/fixtures.js";
import { startPostgres } from "../services/postgres.mjs";
import { ensureS3TestServer } from "../helpers/own-s3.js";
import { createTestBucket, s3Env } from "../helpers/s3-bucket.mjs";
import { testS3Config } from "../helpers/server.js";

type RunningPostgres = Awaited<ReturnType<typeof startPostgres>>;

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * The real vi-cli binary, so that an interruption is a process exiting as it would for a user;
 * with `killOn`, killed outright (SIGKILL: no clean-up of any kind) once stderr matches it.
 */
function vi(
  args: string[],
  cwd: string,
  killOn?: RegExp,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (killOn?.test(stderr)) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 + 9 : -1), stdout, stderr }));
  });
}

interface Report {
  verified: boolean;
  blobs: { referenced: number; copied: number; present: number };
  tables: { table: string; inserted: number; sourceRows: number; targetRows: number; digestsEqual?: boolean }[];
  verify: { blobsChecked: number; bytesRead: number; blobProblems: { sha256: string; problem: string }[] };
}

/** What a client sees of a deployment, without what names the server it came from (URLs, access times). */
async function snapshot(client: Client) {
  const datasets: Dataset[] = [];
  for await (const page of client.datasets.list()) datasets.push(...page.items);
  const seen = [];
  for (const d of datasets.sort((a, b) => a.datasetId.localeCompare(b.datasetId))) {
    const assets: Asset[] = [];
    for await (const page of client.assets.list({ datasetId: d.datasetId })) assets.push(...page.items);
    const annotations: Record<string, Annotation[]> = {};
    for (const a of assets) {
      annotations[a.assetId] = [];
      for await (const page of client.annotations.list({ datasetId: d.datasetId, assetId: a.assetId }))
        annotations[a.assetId]!.push(...page.items);
    }
    const { lastAccessed: _l, selfLink: _s, ...dataset } = d;
    seen.push({
      dataset,
      assets: assets.map(({ contents: _c, selfLink: _self, ...rest }) => rest),
      annotations,
    });
  }
  return seen;
}

/**
 * `vi-cli migrate`: an embedded deployment (real uploads: fixture images, custom metadata,
 * annotations, thumbnails) moved to PostgreSQL and another folder, interrupted twice and resumed,
 * then served from PostgreSQL to the same client with the same key: same datasets, ids, metadata,
 * annotations and bytes.
 */
describe("vi-cli migrate: embedded to PostgreSQL", () => {
  let postgres: RunningPostgres;
  let admin: pg.Client;
  let home: string;
  const servers: RunningServer[] = [];
  const connections: pg.Client[] = [];

  const connect = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    c.on("error", () => undefined); // the cluster stops at the end
    await c.connect();
    connections.push(c);
    return c;
  };
  const createDatabase = async (name: string) => {
    await admin.query(`create database ${name}`);
    return postgres.url.replace(/\/postgres$/, `/${name}`);
  };

  beforeAll(async () => {
    postgres = await startPostgres();
    admin = await connect(postgres.url);
    home = await mkdtemp(join(tmpdir(), "vi-migrate-"));
  });
  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
    for (const c of connections) await c.end().catch(() => undefined);
    await postgres?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("moves every dataset, asset, annotation and byte, resumes after interruptions, and keeps the key", async () => {
    const from = join(home, "embedded");
    const to = join(home, "moved");
    const images = join(home, "images");
    await mkdir(join(images, "cats"), { recursive: true });
    const files: Record<string, string> = {
      "cats/a.jpg": "photo-baseline.jpg",
      "cats/b.png": "rgba.png",
      "c.gif": "static.gif",
      "d.webp": "lossy.webp",
      "e.bmp": "bitmap-24.bmp",
    };
    for (const [name, fixture] of Object.entries(files)) await cp(join(FIXTURES, "valid", fixture), join(images, name));

    // ---- the embedded deployment, used as a team would ----
    const embedded = await startServer({ host: "127.0.0.1", port: 0, dataDir: from });
    servers.push(embedded);
    const { organizationId, secretKey } = embedded.created!;
    let client = new Client({ endpoint: embedded.url, organizationId, secretKey, maxRetries: 1 });
    const first = await client.datasets.create({ name: "street scenes", description: "moved" });
    const second = await client.datasets.create({ name: "second" });
    const uploaded = await client.assets.upload({
      datasetId: first.datasetId,
      paths: images,
      customMetadata: (f) => ({
        camera: f.filename.startsWith("cats/") ? "north" : "south",
        score: 0.75,
        night: false,
      }),
      showProgress: false,
      digestCache: false,
      waitForProcessing: true,
    });
    expect(uploaded.totalSucceeded).toBe(5);
    await client.assets.upload({
      datasetId: second.datasetId,
      paths: join(images, "c.gif"),
      // U+0000 in a string: SQLite keeps it, PostgreSQL cannot (its asset_fields row gets U+FFFD).
      customMetadata: { shared: true, note: "a\u0000b" },
      showProgress: false,
      digestCache: false,
      waitForProcessing: true,
    });
    const [a] = (await client.assets.list({ datasetId: first.datasetId, pageSize: 1 })).items;
    await client.annotations.create({
      datasetId: first.datasetId,
      assetId: a!.assetId,
      tag: "car",
      bbox: [0.1, 0.2, 0.5, 0.6],
    });
    await client.annotations.create({
      datasetId: first.datasetId,
      assetId: a!.assetId,
      tag: "scene",
      caption: "a street",
    });
    // A bulk delete's session (a dry run: it counts, deletes nothing) is state that moves too.
    await client.datasets.bulkDeleteAssets({
      datasetId: second.datasetId,
      metadataQuery: "shared == true",
      dryRun: true,
    });
    const before = await snapshot(client);
    expect(before.flatMap((d) => d.assets)).toHaveLength(6);
    expect(before.flatMap((d) => d.assets).every((x) => x.metadata.thumbnail === "ready")).toBe(true);

    const url = await createDatabase("moved");
    const args = ["migrate", "--from", from, "--to", url, "--to-data-dir", to, "--chunk-rows", "2", "--json"];
    // While the server runs, the folder is its own: refused, nothing copied.
    const busy = await vi(args, home);
    expect(busy.code).toBe(2);
    // With --json the error is the one JSON document on stdout.
    expect(busy.stdout).toMatch(/in use.*stop/is);
    await client.close();
    await embedded.close();
    servers.pop();

    // ---- interrupted among the files, then among the rows, then to the end ----
    const midFiles = await vi([...args, "--stop-after", "3"], home);
    expect(midFiles.code, midFiles.stderr).toBe(130);
    expect(midFiles.stdout).toMatch(/run the same command again/);
    const target = await connect(url);
    const count = async (table: string) => Number((await target.query(`select count(*) n from ${table}`)).rows[0].n);
    expect(await count("assets")).toBe(0);
    const midRows = await vi([...args, "--stop-after", "20"], home);
    expect(midRows.code, midRows.stderr).toBe(130);
    const assetsSoFar = await count("assets");
    expect(await count("organizations")).toBe(1);
    expect(assetsSoFar).toBeLessThan(6);

    const done = await vi(args, home);
    expect(done.code, done.stderr).toBe(0);
    const report = JSON.parse(done.stdout) as Report;
    expect(report.verified).toBe(true);
    // 6 assets and their 6 thumbnails, 5 distinct images (c.gif is in both datasets): 10 blobs.
    expect(report.blobs.referenced).toBe(10);
    expect(report.blobs.present).toBeGreaterThan(0); // the first runs' copies were kept
    const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
    expect(byTable.assets!.inserted).toBe(6 - assetsSoFar);
    expect(byTable.organizations!.inserted).toBe(0);
    for (const t of report.tables) {
      expect(t.targetRows, t.table).toBe(t.sourceRows);
      expect(t.digestsEqual, t.table).toBe(true);
    }
    expect(byTable.annotations!.targetRows).toBe(2);
    expect(byTable.deletion_sessions!.targetRows).toBe(1);
    expect(byTable.ingestion_files!.targetRows).toBe(6);
    expect(report.verify.blobsChecked).toBe(10);
    expect(report.verify.bytesRead).toBeGreaterThan(0);

    // Again: nothing left to do, the same verified end.
    const again = JSON.parse((await vi(args, home)).stdout) as Report;
    expect(again.verified).toBe(true);
    expect(again.blobs.copied).toBe(0);
    expect(again.tables.every((t) => t.inserted === 0)).toBe(true);

    // ---- served from PostgreSQL and the new folder, to the same key ----
    const moved = await startServer({ host: "127.0.0.1", port: 0, dataDir: to, databaseUrl: url });
    servers.push(moved);
    expect(moved.created).toBeUndefined();
    const credentials = JSON.parse(await readFile(moved.credentialsPath!, "utf8")) as { secretKey: string };
    expect(credentials.secretKey).toBe(secretKey);
    client = new Client({ endpoint: moved.url, organizationId, secretKey, maxRetries: 1 });
    expect(await snapshot(client)).toEqual(before);

    const saveDir = join(home, "download");
    const downloaded = await client.assets.download({
      datasetId: first.datasetId,
      saveDir,
      showProgress: false,
      digestCache: false,
    });
    expect(downloaded.downloaded).toBe(5);
    expect(downloaded.failed).toEqual([]);
    for (const [name, fixture] of Object.entries(files))
      expect(sha(await readFile(join(saveDir, name)))).toBe(sha(await readFile(join(FIXTURES, "valid", fixture))));
    const thumb = (await client.assets.get({ datasetId: first.datasetId, assetId: a!.assetId, contents: true }))
      .contents!.thumbnail!;
    expect((await fetch(thumb.url)).status).toBe(200);

    // New rows continue after the copied ones (the sequence moved past them).
    await writeFile(join(home, "new.jpg"), await readFile(join(FIXTURES, "valid", "legacy.jfif")));
    const added = await client.assets.upload({
      datasetId: first.datasetId,
      paths: join(home, "new.jpg"),
      showProgress: false,
      digestCache: false,
    });
    expect(added.totalSucceeded).toBe(1);
    const maxSeq = Number((await target.query("select max(seq) m from assets")).rows[0].m);
    expect(maxSeq).toBe(7);
    expect(await client.assets.count({ datasetId: first.datasetId })).toBe(6);
    await client.close();
  }, 240_000); // a server with processing, a PostgreSQL and several CLI runs: minutes on a loaded machine

  it("finds a target file that does not match, copies again one that was cut, and refuses another deployment", async () => {
    const from = join(home, "small");
    const to = join(home, "small-moved");
    const embedded = await startServer({ host: "127.0.0.1", port: 0, dataDir: from, processingConcurrency: 0 });
    const { organizationId, secretKey } = embedded.created!;
    const client = new Client({ endpoint: embedded.url, organizationId, secretKey, maxRetries: 1 });
    const { datasetId } = await client.datasets.create({ name: "small" });
    for (const f of ["photo-baseline.jpg", "rgba.png"])
      await client.assets.upload({
        datasetId,
        paths: join(FIXTURES, "valid", f),
        showProgress: false,
        digestCache: false,
      });
    await client.close();
    await embedded.close();

    const url = await createDatabase("small");
    const args = ["migrate", "--from", from, "--to", url, "--to-data-dir", to, "--json"];
    expect((await vi(args, home)).code).toBe(0);
    const blobFiles = async () => {
      const out: string[] = [];
      for (const shard of await readdir(join(to, "blobs")))
        for (const f of await readdir(join(to, "blobs", shard))) out.push(join(to, "blobs", shard, f));
      return out;
    };
    const [cut, flipped] = await blobFiles();

    // Same size, other bytes: only reading back finds it (and --verify sizes does not).
    const bytes = await readFile(flipped!);
    const flip = () => bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    flip();
    await writeFile(flipped!, bytes);
    const damaged = await vi(args, home);
    expect(damaged.code).toBe(1);
    const report = JSON.parse(damaged.stdout) as Report;
    expect(report.verified).toBe(false);
    expect(report.verify.blobProblems).toEqual([{ sha256: flipped!.split("/").pop(), problem: "sha256-mismatch" }]);
    expect((await vi([...args, "--verify", "sizes"], home)).code).toBe(0);
    flip();
    await writeFile(flipped!, bytes);

    // A cut copy (an interrupted write elsewhere) is copied again.
    await truncate(cut!, 10);
    const healed = JSON.parse((await vi(args, home)).stdout) as Report;
    expect(healed.verified).toBe(true);
    expect(healed.blobs.copied).toBe(1);

    // Without --to-data-dir the files stay where they are: nothing to copy, all read back.
    const inPlace = await vi(["migrate", "--from", from, "--to", await createDatabase("in_place"), "--json"], home);
    expect(inPlace.code, inPlace.stderr).toBe(0);
    const kept = JSON.parse(inPlace.stdout) as Report;
    expect(kept).toMatchObject({ verified: true, blobs: { referenced: 2, copied: 0, present: 2 } });
    expect(kept.verify.bytesRead).toBeGreaterThan(0);

    // Killed outright in the middle of the rows (a crash, not a clean stop): the re-run continues.
    const killedUrl = await createDatabase("killed");
    const killedArgs = [
      "migrate",
      "--from",
      from,
      "--to",
      killedUrl,
      "--to-data-dir",
      join(home, "k"),
      "--chunk-rows",
      "1",
    ];
    const killed = await vi(killedArgs, home, /rows: secret_keys/);
    expect(killed.code).toBe(137);
    const resumed = await vi([...killedArgs, "--json"], home);
    expect(resumed.code, resumed.stderr).toBe(0);
    const resumedReport = JSON.parse(resumed.stdout) as Report;
    expect(resumedReport.verified).toBe(true);
    expect(resumedReport.blobs.copied).toBe(0); // the files were all in place before the rows started
    expect(resumedReport.tables.find((t) => t.table === "organizations")!.inserted).toBe(0);

    // A database a server already started on holds another organization: refused.
    const other = await createDatabase("other");
    const fresh = await startServer({ host: "127.0.0.1", port: 0, dataDir: join(home, "fresh"), databaseUrl: other });
    await fresh.close();
    const refused = await vi(["migrate", "--from", from, "--to", other, "--to-data-dir", join(home, "x")], home);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already holds another deployment/);
  }, 240_000); // a server with processing, a PostgreSQL and several CLI runs: minutes on a loaded machine
  it("moves the bytes into an S3 bucket: served from PostgreSQL and the bucket to the same key", async () => {
    // The S3 test server of the scale-out run, or one of this test's own.
    const stopOwnS3 = await ensureS3TestServer();
    const bucket = await createTestBucket();
    try {
      const from = join(home, "to-bucket");
      const embedded = await startServer({ host: "127.0.0.1", port: 0, dataDir: from });
      const { organizationId, secretKey } = embedded.created!;
      let client = new Client({ endpoint: embedded.url, organizationId, secretKey, maxRetries: 1 });
      const { datasetId } = await client.datasets.create({ name: "to the bucket" });
      const fixtures = ["photo-baseline.jpg", "rgba.png", "still.heif"];
      const uploaded = await client.assets.upload({
        datasetId,
        paths: fixtures.map((f) => join(FIXTURES, "valid", f)),
        customMetadata: { site: "b" },
        showProgress: false,
        digestCache: false,
        waitForProcessing: true,
      });
      expect(uploaded.totalSucceeded).toBe(3);
      const before = await snapshot(client);
      await client.close();
      await embedded.close();

      const url = await createDatabase("to_bucket");
      const env = s3Env(bucket.bucket);
      const args = [
        "migrate",
        "--from",
        from,
        "--to",
        url,
        "--s3-bucket",
        bucket.bucket,
        "--s3-endpoint",
        env.VI_S3_ENDPOINT!,
        "--s3-force-path-style",
        "--json",
      ];
      const credentials = {
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      };
      const moved = await vi(args, home, undefined, credentials);
      expect(moved.code, moved.stderr).toBe(0);
      const report = JSON.parse(moved.stdout) as Report;
      expect(report.verified).toBe(true);
      // 3 images and their 3 thumbnails, each read back from the bucket and hashed.
      expect(report.blobs).toMatchObject({ referenced: 6, copied: 6 });
      expect(report.verify.blobsChecked).toBe(6);
      const rerun = await vi(args, home, undefined, credentials);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(JSON.parse(rerun.stdout)).toMatchObject({ verified: true, blobs: { copied: 0, present: 6 } });

      const server = await startServer({
        host: "127.0.0.1",
        port: 0,
        dataDir: join(home, "bucket-replica"),
        databaseUrl: url,
        s3: testS3Config(bucket.bucket),
      });
      servers.push(server);
      expect(server.created).toBeUndefined();
      client = new Client({ endpoint: server.url, organizationId, secretKey, maxRetries: 1 });
      expect(await snapshot(client)).toEqual(before);
      const saveDir = join(home, "from-bucket");
      const downloaded = await client.assets.download({ datasetId, saveDir, showProgress: false, digestCache: false });
      expect(downloaded).toMatchObject({ downloaded: 3, failed: [] });
      for (const f of fixtures)
        expect(sha(await readFile(join(saveDir, f)))).toBe(sha(await readFile(join(FIXTURES, "valid", f))));
      const [asset] = (await client.assets.list({ datasetId, pageSize: 1 })).items;
      const thumb = (await client.assets.get({ datasetId, assetId: asset!.assetId, contents: true })).contents!
        .thumbnail!;
      expect((await fetch(thumb.url)).status).toBe(200); // redirected to the bucket
      await client.close();
    } finally {
      for (const s of servers.splice(0)) await s.close().catch(() => undefined);
      await bucket.remove();
      await stopOwnS3();
    }
  }, 240_000);
});
