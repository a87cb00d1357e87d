import { open, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Client } from "@vi/sdk";
import { FIXTURES } from "../helpers/server.js";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.mjs";

const SIZE = 384 * 1024 * 1024;

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** A valid JPEG of SIZE bytes: a photo's headers up to its scan, filler scan data, EOI. */
async function largeJpeg(path: string): Promise<void> {
  const photo = await readFile(join(FIXTURES, "valid", "photo-baseline.jpg"));
  let sos = 2;
  while (!(photo[sos] === 0xff && photo[sos + 1] === 0xda)) sos += 2 + photo.readUInt16BE(sos + 2);
  const header = photo.subarray(0, sos + 2 + photo.readUInt16BE(sos + 2));
  const block = Buffer.alloc(4 << 20, 0x5a);
  const fh = await open(path, "w");
  await fh.write(header);
  for (let written = header.length; written < SIZE - 2; ) {
    const n = Math.min(block.length, SIZE - 2 - written);
    await fh.write(block, 0, n);
    written += n;
  }
  await fh.write(Buffer.from([0xff, 0xd9]));
  await fh.close();
}

describe("a large file", () => {
  let home: string | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("uploads and downloads whole with bounded server memory", async () => {
    home = await mkdtemp(join(tmpdir(), "vi-large-"));
    const file = join(home, "huge.jpg");
    await largeJpeg(file);
    server = await startServerProcess(join(home, "data"));
    const client = new Client({ endpoint: server.url, organizationId: server.creds.organizationId, secretKey: server.creds.secretKey });
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
  });
});
