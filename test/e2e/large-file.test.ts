import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Client } from "@vi/sdk";
import { writeLargeJpeg } from "../helpers/jpeg.mjs";
import { peakRssMb, startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";
import { scaleoutTimeout } from "../helpers/s3-bucket.mjs";

const SIZE = 384 * 1024 * 1024;

describe("a large file", () => {
  let home: string | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it(
    "uploads and downloads whole with bounded server memory",
    async () => {
      home = await mkdtemp(join(tmpdir(), "vi-large-"));
      const file = join(home, "huge.jpg");
      await writeLargeJpeg(file, SIZE);
      server = await startServerProcess(join(home, "data"));
      const client = new Client({
        endpoint: server.url,
        organizationId: server.creds.organizationId,
        secretKey: server.creds.secretKey,
      });
      const { datasetId } = await client.datasets.create({ name: "large" });
      const result = await client.assets.upload({ datasetId, paths: file, showProgress: false, digestCache: false });
      expect(result.totalSucceeded).toBe(1);
      expect(result.bytesSent).toBe(SIZE);
      const [asset] = (await client.assets.list({ datasetId })).items;
      expect(asset!.metadata).toMatchObject({ fileSize: SIZE, mimeType: "image/jpeg", width: 640, height: 480 });
      // The server streams: it never holds the file (384 MiB) in memory.
      expect(await peakRssMb(server.pid)).toBeLessThan(256);

      const out = join(home, "out");
      const download = await client.assets.download({ datasetId, saveDir: out, showProgress: false });
      expect(download.downloaded).toBe(1);
      expect(download.failed).toEqual([]);
      await client.close();
      // With a bucket the file goes up in parts, is read back whole to be verified and sent to its
      // content address: three passes over 384 MiB instead of one.
    },
    scaleoutTimeout(180_000),
  );
});
