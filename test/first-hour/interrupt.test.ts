import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@vi/sdk";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { plain, serve, userEnv, viCli, viCliOnTty, type Served } from "./helpers.js";

const FILES = 600;

/** Ctrl-C typed into the terminal the real CLI runs on, part way through a real upload. */
describe("vi-cli assets upload, interrupted with Ctrl-C on a terminal", () => {
  let home: string;
  let server: Served;
  let env: NodeJS.ProcessEnv;
  let client: Client;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "vi-interrupt-"));
    env = userEnv(home);
    server = await serve(home, env);
    client = new Client({ configFile: join(home, "vi-data", "credentials.json") });
    await mkdir(join(home, "many"));
    // Distinct files, so that none is deduplicated and the upload takes a while at --concurrency 1.
    for (let i = 0; i < FILES; i++)
      await writeFile(join(home, "many", `img${String(i).padStart(4, "0")}.jpg`), uniqueJpeg());
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("prints what was committed and how to resume; the same command again uploads the rest", async () => {
    const datasetId = (await client.datasets.create({ name: "interrupted" })).datasetId;
    let typed = false;
    const run = viCliOnTty(["assets", "upload", datasetId, "many", "--concurrency", "1"], home, env, {
      onOutput: (text, child) => {
        if (typed || !text.includes("Uploading")) return;
        typed = true;
        // Once the server has committed a first file, type Ctrl-C (the terminal sends SIGINT).
        void (async () => {
          while ((await client.assets.count({ datasetId })) === 0) await new Promise((r) => setTimeout(r, 20));
          child.stdin?.write("\x03");
        })();
      },
    });
    const { code, output } = await run;
    const text = plain(output);
    expect(code, text).toBe(130);
    expect(text).toMatch(/^Upload summary \(interrupted\)$/m);
    const counts = /Files: +600 total, (\d+) succeeded, 0 failed, (\d+) not committed \(interrupted\)/.exec(text);
    expect(counts, text).not.toBeNull();
    const committed = Number(counts![1]);
    expect(committed).toBeGreaterThan(0);
    expect(committed + Number(counts![2])).toBe(FILES);
    expect(text).toMatch(new RegExp(`^error: interrupted \\(SIGINT\\): ${committed} of 600 files committed$`, "m"));
    expect(text).toMatch(/^hint: to upload the rest, run the same command again: committed files are recognised/m);
    expect(await client.assets.count({ datasetId })).toBeGreaterThanOrEqual(committed);

    const again = await viCli(["assets", "upload", datasetId, "many", "--concurrency", "1"], home, env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Files: +600 total, 600 succeeded, 0 failed/);
    // What was committed is not sent again.
    const deduplicated = /Deduplicated: (\d+) \(bytes already stored, none sent\)/.exec(again.stdout);
    expect(Number(deduplicated?.[1])).toBeGreaterThanOrEqual(committed);
    expect(await client.assets.count({ datasetId })).toBe(FILES);
  });
});
