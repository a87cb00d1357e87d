import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { cp, mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES } from "../helpers/server.js";
import { databaseForDataDir, scaleout } from "../helpers/test-database.mjs";

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real binary, as a user runs it: no TTY, the environment of the test's temp folder. */
function vi(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: cwd, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const json = <T>(r: Run): T => JSON.parse(r.stdout) as T;

describe("vi-cli end to end against `vi-cli serve`", () => {
  let home: string;
  let server: ChildProcess;
  let datasetId: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "vi-cli-"));
    // In the scale-out configuration, on the folder's PostgreSQL database, named by the flag.
    const database = scaleout() ? ["--database-url", await databaseForDataDir(join(home, "vi-data"))] : [];
    server = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", join(home, "vi-data"), ...database], {
      cwd: home,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines = createInterface({ input: server.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server did not start")), 20_000);
      lines.on("line", (line) => {
        if (/listening on http/.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    });
    await mkdir(join(home, "images", "night"), { recursive: true });
    await cp(join(FIXTURES, "valid", "photo-baseline.jpg"), join(home, "images", "day.jpg"));
    await cp(join(FIXTURES, "valid", "static.gif"), join(home, "images", "night", "moon.gif"));
    await cp(join(FIXTURES, "invalid", "truncated.png"), join(home, "broken.png"));
  });
  afterAll(async () => {
    server?.kill("SIGTERM");
    await new Promise((r) => server?.once("exit", r));
    await rm(home, { recursive: true, force: true });
  });

  it("serve wrote credentials (0600) that the CLI finds from the same folder", async () => {
    expect((await stat(join(home, "vi-data", "credentials.json"))).mode & 0o777).toBe(0o600);
    const created = await vi(["datasets", "create", "cli set", "--json"], home);
    expect(created.code).toBe(0);
    datasetId = json<{ datasetId: string }>(created).datasetId;
    const listed = await vi(["datasets", "list"], home);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(datasetId);
    expect(listed.stdout).toContain("cli set");
  });

  it("uploads a folder, lists, gets with a URL, downloads and deletes", async () => {
    const up = await vi(["assets", "upload", datasetId, join(home, "images"), "--json"], home);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    expect(json<{ totalSucceeded: number }>(up).totalSucceeded).toBe(2);

    const list = await vi(["assets", "list", datasetId, "--json", "--all"], home);
    expect(list.code).toBe(0);
    const items = json<{ items: { assetId: string; filename: string }[] }>(list).items;
    expect(items.map((a) => a.filename).sort()).toEqual(["day.jpg", "night/moon.gif"]);

    const human = await vi(["assets", "list", datasetId], home);
    expect(human.stdout).toContain("night/moon.gif");
    expect(human.stdout).toContain("640x480");

    const day = items.find((a) => a.filename === "day.jpg")!;
    const got = await vi(["assets", "get", datasetId, day.assetId, "--contents", "--json"], home);
    const asset = json<{ contents: { asset: { url: string } } }>(got);
    expect(asset.contents.asset.url).toMatch(/\/day\.jpg\?/);

    const out = join(home, "copy");
    const down = await vi(["assets", "download", datasetId, out], home);
    expect(down.code).toBe(0);
    expect(
      (await readFile(join(out, "night", "moon.gif"))).equals(
        await readFile(join(home, "images", "night", "moon.gif")),
      ),
    ).toBe(true);

    const del = await vi(["assets", "delete", datasetId, day.assetId], home);
    expect(del.code).toBe(0);
    const gone = await vi(["assets", "get", datasetId, day.assetId], home);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toMatch(/error: .*not found/i);
  });

  it("waits for processing, shows the thumbnail and decoded facts, and reprocesses a dataset", async () => {
    const dir = join(home, "processing");
    await mkdir(dir, { recursive: true });
    await cp(join(FIXTURES, "valid", "phone.heic"), join(dir, "phone.heic"));
    const up = await vi(["assets", "upload", datasetId, dir, "--no-wait", "--json"], home);
    expect(up.code).toBe(0);
    const [sessionId] = json<{ sessionIds: string[] }>(up).sessionIds;
    const waited = await vi(["assets", "wait", datasetId, sessionId!, "--processing"], home);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/Processed: 1 ok, 0 in error, 0 still processing/);

    const list = await vi(["assets", "list", datasetId, "--json", "--all"], home);
    const phone = json<{ items: { assetId: string; filename: string }[] }>(list).items.find(
      (a) => a.filename === "phone.heic",
    )!;
    const got = await vi(["assets", "get", datasetId, phone.assetId, "--contents"], home);
    expect(got.stdout).toMatch(/Upload status:\s+completed/);
    expect(got.stdout).toMatch(/Thumbnail:\s+ready/);
    expect(got.stdout).toMatch(/Decoded:\s+.*libheif/);
    expect(got.stdout).toMatch(/Thumbnail URL:\s+http\S+\/thumbnail\.webp\?/);

    const again = await vi(["datasets", "reprocess", datasetId, "--all", "--json"], home);
    expect(again.code).toBe(0);
    expect(json<{ queued: number }>(again).queued).toBeGreaterThan(0);
    const latest = await vi(["datasets", "reprocess", datasetId], home);
    expect(latest.stdout).toMatch(/^Queued 0 asset\(s\)/);
  });

  it("a broken image is a partial failure (exit 1) naming the file and the reason", async () => {
    const r = await vi(
      ["assets", "upload", datasetId, join(home, "broken.png"), join(home, "images", "day.jpg"), "--fail-after-all"],
      home,
    );
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("broken.png");
    expect(r.stdout + r.stderr).toContain("ECORRUPT");
  });

  it("usage errors exit 2, a wrong key 3, an unknown dataset 4, an unreachable server 6", async () => {
    expect((await vi(["assets", "frobnicate"], home)).code).toBe(2);
    expect((await vi(["assets", "upload", datasetId, "x.jpg", "--concurrency", "abc"], home)).code).toBe(2);
    const creds = JSON.parse(await readFile(join(home, "vi-data", "credentials.json"), "utf8")) as {
      endpoint: string;
      organizationId: string;
    };
    const wrongKey = await vi(["datasets", "list"], home, {
      DATATURE_VI_SECRET_KEY: "dtvi_" + "a".repeat(98),
      DATATURE_VI_ORGANIZATION_ID: creds.organizationId,
      DATATURE_VI_API_ENDPOINT: creds.endpoint,
    });
    expect(wrongKey.code).toBe(3);
    expect((await vi(["datasets", "get", "no-such-dataset"], home)).code).toBe(4);
    const down = await vi(["datasets", "list"], home, { DATATURE_VI_API_ENDPOINT: "http://127.0.0.1:9" });
    expect(down.code).toBe(6);
  });

  it("keys create makes a key that works", async () => {
    const r = await vi(["keys", "create", "--name", "ci", "--json"], home);
    expect(r.code).toBe(0);
    const { secretKey } = json<{ secretKey: string }>(r);
    const creds = JSON.parse(await readFile(join(home, "vi-data", "credentials.json"), "utf8")) as {
      endpoint: string;
      organizationId: string;
    };
    const withNew = await vi(["datasets", "list"], home, {
      DATATURE_VI_SECRET_KEY: secretKey,
      DATATURE_VI_ORGANIZATION_ID: creds.organizationId,
      DATATURE_VI_API_ENDPOINT: creds.endpoint,
    });
    expect(withNew.code).toBe(0);
  });
});
