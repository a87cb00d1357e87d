import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { homedir, tmpdir, userInfo } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, startTestServer, type TestServer } from "./helpers/server.js";

const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");

/** The user's digest caches, found without VI_CACHE_DIR: where an upload would write if the tests did not redirect it. */
const homeCaches = [
  ...new Set([
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "vi", "digests.json"),
    join(userInfo().homedir, ".cache", "vi", "digests.json"),
  ]),
];

/** What a cache file is now: whether it exists, its modification time and size, and its text. */
const snapshot = (path: string) =>
  existsSync(path)
    ? { mtimeMs: statSync(path).mtimeMs, size: statSync(path).size, text: readFileSync(path, "utf8") }
    : null;

const inside = (dir: string, path: string): boolean => !relative(resolve(dir), resolve(path)).startsWith("..");

describe("the test run leaves the user's digest cache alone", () => {
  let t: TestServer;
  let work: string;
  const before = new Map<string, ReturnType<typeof snapshot>>();

  beforeAll(async () => {
    for (const path of homeCaches) before.set(path, snapshot(path));
    t = await startTestServer();
    work = await mkdtemp(join(tmpdir(), "vi-cache-isolation-"));
    await cp(join(FIXTURES, "valid", "photo-baseline.jpg"), join(work, "sdk.jpg"));
    await cp(join(FIXTURES, "valid", "static.gif"), join(work, "cli.gif"));
  });
  afterAll(async () => {
    await t?.client.close();
    await t?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("VI_CACHE_DIR is set for every test, to a folder outside the home folder", () => {
    const dir = process.env.VI_CACHE_DIR;
    expect(dir).toBeTruthy();
    for (const home of [homedir(), userInfo().homedir]) expect(inside(home, dir!)).toBe(false);
  });

  it("an upload through the SDK and one through the real CLI remember their files there, not in ~/.cache/vi", async () => {
    const datasetId = (await t.client.datasets.create({ name: "cache" })).datasetId;
    // The SDK's default: digestCache on.
    await t.client.assets.upload({ datasetId, paths: join(work, "sdk.jpg"), showProgress: false });
    // The CLI as a user's shell would start it: the environment the tests run in, HOME included.
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn(process.execPath, [BIN, "assets", "upload", datasetId, join(work, "cli.gif"), "--json"], {
        cwd: work,
        env: {
          ...process.env,
          DATATURE_VI_API_ENDPOINT: t.server.url,
          DATATURE_VI_ORGANIZATION_ID: t.organizationId,
          DATATURE_VI_SECRET_KEY: t.secretKey,
        },
        stdio: "ignore",
      });
      child.on("error", fail);
      child.on("close", done);
    });
    expect(code).toBe(0);

    for (const path of homeCaches) {
      const now = snapshot(path);
      expect(now?.text ?? "", `${path} names the test's files`).not.toContain(work);
      expect(now, `${path} changed during the test`).toEqual(before.get(path));
    }
    const cache = JSON.parse(await readFile(join(process.env.VI_CACHE_DIR!, "digests.json"), "utf8")) as {
      entries: Record<string, unknown>;
    };
    expect(Object.keys(cache.entries)).toEqual(
      expect.arrayContaining([resolve(work, "sdk.jpg"), resolve(work, "cli.gif")]),
    );
  });
});
