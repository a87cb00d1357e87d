import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Client, ViNotFoundError } from "@vi/sdk";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");

function vi(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: cwd },
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

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** What the holder of a data folder can do with the server stopped: check it, and add organizations. */
describe("vi-cli fsck and orgs create", () => {
  let home: string;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it.skipIf(localOnly("damages blob files in the data folder (fsck on a bucket: test/e2e/s3-store.test.ts)"))(
    "orgs create adds an isolated organization; fsck reports damaged and missing bytes and quarantines",
    async () => {
      home = await mkdtemp(join(tmpdir(), "vi-admin-"));
      const dataDir = join(home, "data");
      const images = join(home, "images");
      await mkdir(images);
      const files = [uniqueJpeg(60_000), uniqueJpeg(61_000), uniqueJpeg(62_000)];
      for (const [i, b] of files.entries()) await writeFile(join(images, `img-${i}.jpg`), b);
      // Processing is off: fsck's counts below are of the uploaded bytes (no thumbnails).
      server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
      const first = new Client({ ...server.creds, endpoint: server.url });
      const datasetId = (await first.datasets.create({ name: "first org's" })).datasetId;
      expect((await first.assets.upload({ datasetId, paths: images, showProgress: false })).totalSucceeded).toBe(3);
      await first.close();

      // While the server runs, the folder is its own.
      const busy = await vi(["fsck", "--data-dir", dataDir], home);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/in use|stop the server/);
      await server.stop();
      server = undefined;

      const clean = await vi(["fsck", "--data-dir", dataDir, "--json"], home);
      expect(clean.code, clean.stderr).toBe(0);
      expect(JSON.parse(clean.stdout)).toMatchObject({ clean: true, blobsChecked: 3 });

      const made = await vi(["orgs", "create", "second team", "--data-dir", dataDir, "--json"], home);
      expect(made.code, made.stderr).toBe(0);
      const second = JSON.parse(made.stdout) as { organizationId: string; secretKey: string };

      // Damage one blob, lose another.
      const [damaged, lost] = [sha(files[0]!), sha(files[1]!)];
      const damagedPath = join(dataDir, "blobs", damaged.slice(0, 2), damaged);
      const bytes = await readFile(damagedPath);
      bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
      await writeFile(damagedPath, bytes);
      await rm(join(dataDir, "blobs", lost.slice(0, 2), lost));
      const found = await vi(["fsck", "--data-dir", dataDir], home);
      expect(found.code).toBe(1);
      expect(found.stdout).toContain(`damaged: ${damaged}`);
      expect(found.stdout).toContain("img-1.jpg (missing)");
      const quarantined = await vi(["fsck", "--data-dir", dataDir, "--quarantine", "--json"], home);
      expect(quarantined.code).toBe(1);
      expect(existsSync(join(dataDir, "quarantine", damaged))).toBe(true);
      expect(existsSync(damagedPath)).toBe(false);

      // The new organization works, and sees nothing of the first.
      server = await startServerProcess(dataDir, { VI_PROCESSING_CONCURRENCY: "0" });
      const other = new Client({
        endpoint: server.url,
        organizationId: second.organizationId,
        secretKey: second.secretKey,
      });
      expect((await other.datasets.list()).items).toEqual([]);
      await expect(other.datasets.get({ datasetId })).rejects.toBeInstanceOf(ViNotFoundError);
      await other.close();
    },
  );
});
