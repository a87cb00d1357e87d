import { chmod, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@vi/server";
import { Client } from "@vi/sdk";
import { FIXTURES } from "../helpers/server.js";

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** A data folder made beforehand with mode 0755: the files in it are private all the same, and the operator is warned. */
describe("a data folder readable by others", () => {
  let dir: string;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("gets private files (0600) and folders (0700), and a warning at start", async () => {
    dir = await mkdtemp(join(tmpdir(), "vi-modes-"));
    await chmod(dir, 0o755);
    let log = "";
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        log += chunk.toString();
        done();
      },
    });
    server = await startServer({ host: "127.0.0.1", port: 0, dataDir: dir, logger: { level: "warn", stream } });
    expect(log).toContain("readable by other users");
    const { organizationId, secretKey } = server.created!;
    const client = new Client({ endpoint: server.url, organizationId, secretKey });
    const datasetId = (await client.datasets.create({ name: "modes" })).datasetId;
    await client.assets.upload({ datasetId, paths: join(FIXTURES, "valid", "rgba.png"), showProgress: false });
    await client.close();

    for (const f of ["metadata.sqlite", "credentials.json"]) expect(await modeOf(join(dir, f)), f).toBe(0o600);
    const wal = join(dir, "metadata.sqlite-wal");
    if ((await readdir(dir)).includes("metadata.sqlite-wal")) expect(await modeOf(wal)).toBe(0o600);
    for (const d of ["blobs", "staging"]) expect(await modeOf(join(dir, d)), d).toBe(0o700);
    const shards = await readdir(join(dir, "blobs"));
    for (const shard of shards) {
      const shardDir = join(dir, "blobs", shard);
      expect(await modeOf(shardDir), shard).toBe(0o700);
      for (const blob of await readdir(shardDir)) expect(await modeOf(join(shardDir, blob)), blob).toBe(0o600);
    }
  });
});
