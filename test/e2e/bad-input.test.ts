import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Client,
  ViAuthenticationError,
  ViConfigurationError,
  ViNotFoundError,
  ViUploadError,
  ViValidationError,
} from "@vi/sdk";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";

/** Bad input gets a clear typed error and changes nothing. */
describe("bad input", () => {
  let t: TestServer;
  let datasetId: string;
  let dir: string;

  beforeAll(async () => {
    t = await startTestServer();
    datasetId = (await t.client.datasets.create({ name: "guarded" })).datasetId;
    dir = await mkdtemp(join(tmpdir(), "vi-bad-"));
    await writeFile(join(dir, "notes.txt"), "hello");
    await cp(join(FIXTURES, "invalid", "notes-not-image.png"), join(dir, "notes-not-image.png"));
    await cp(join(FIXTURES, "valid", "photo-baseline.jpg"), join(dir, "ok.jpg"));
  });
  afterAll(async () => t?.stop());

  const assetCount = async () => (await t.client.datasets.get({ datasetId })).statistic.assetTotal;

  it("an unknown dataset is ViNotFoundError, for every call", async () => {
    await expect(t.client.datasets.get({ datasetId: "no-such-dataset" })).rejects.toBeInstanceOf(ViNotFoundError);
    await expect(t.client.assets.list({ datasetId: "no-such-dataset" })).rejects.toBeInstanceOf(ViNotFoundError);
    await expect(
      t.client.assets.upload({ datasetId: "no-such-dataset", paths: join(dir, "ok.jpg"), showProgress: false }),
    ).rejects.toBeInstanceOf(ViNotFoundError);
    await expect(t.client.datasets.delete({ datasetId: "no-such-dataset" })).rejects.toBeInstanceOf(ViNotFoundError);
    const err = await t.client.assets.get({ datasetId, assetId: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViNotFoundError);
    expect((err as ViNotFoundError).message).toContain("nope");
    expect((err as ViNotFoundError).requestId).toBeTruthy();
  });

  it("a wrong key is ViAuthenticationError and a malformed one is refused before any request", async () => {
    const wrong = new Client({
      endpoint: t.server.url,
      organizationId: t.organizationId,
      secretKey: "dtvi_" + "x".repeat(98),
      maxRetries: 0,
    });
    await expect(wrong.datasets.list()).rejects.toBeInstanceOf(ViAuthenticationError);
    expect(
      () => new Client({ endpoint: t.server.url, organizationId: t.organizationId, secretKey: "sk-short" }),
    ).toThrow(ViConfigurationError);
  });

  it("a key of one organization never reaches another's data (404, not 403)", async () => {
    const other = await t.server.admin.createOrganization("other");
    const intruder = new Client({
      endpoint: t.server.url,
      organizationId: other.organizationId,
      secretKey: other.secretKey,
      maxRetries: 0,
    });
    expect((await intruder.datasets.list()).items).toEqual([]);
    await expect(intruder.datasets.get({ datasetId })).rejects.toBeInstanceOf(ViNotFoundError);
    // The intruder names the victim's organization in its headers and paths: still nothing.
    const spoofed = new Client({
      endpoint: t.server.url,
      organizationId: t.organizationId,
      secretKey: other.secretKey,
      maxRetries: 0,
    });
    await expect(spoofed.datasets.list()).rejects.toBeInstanceOf(ViAuthenticationError);
    const raw = await fetch(
      `${t.server.url}/workspaces/${t.organizationId}/datasets/${t.organizationId}_${datasetId}`,
      {
        headers: { authorization: `Bearer ${other.secretKey}` },
      },
    );
    expect(raw.status).toBe(404);
    expect(await assetCount()).toBe(0);
  });

  it("a missing path is ViValidationError naming it, and nothing is sent", async () => {
    const missing = join(dir, "does-not-exist.jpg");
    const err = await t.client.assets
      .upload({ datasetId, paths: [join(dir, "ok.jpg"), missing], showProgress: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViValidationError);
    expect((err as Error).message).toContain("does-not-exist.jpg");
    expect(await assetCount()).toBe(0);
  });

  it("a non-image named explicitly is refused before any request", async () => {
    const err = await t.client.assets
      .upload({ datasetId, paths: join(dir, "notes.txt"), showProgress: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViValidationError);
    expect((err as Error).message).toContain("notes.txt");
    expect(await assetCount()).toBe(0);
  });

  it("text behind an image extension is refused by the server as EBADMIME, naming the file", async () => {
    const err = await t.client.assets
      .upload({ datasetId, paths: join(dir, "notes-not-image.png"), showProgress: false })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViUploadError);
    const result = (err as ViUploadError).result;
    expect(result.totalFailed).toBe(1);
    expect(result.failedFiles[0]).toMatchObject({ filename: "notes-not-image.png", code: "EBADMIME" });
    expect((err as Error).message).toContain("notes-not-image.png");
    expect(await assetCount()).toBe(0);
  });

  it("rejects malformed list parameters with a 400 that says what is wrong", async () => {
    await expect(t.client.assets.list({ datasetId, filter: "{not json" })).rejects.toBeInstanceOf(ViValidationError);
    await expect(t.client.assets.list({ datasetId, pageToken: "garbage!" })).rejects.toBeInstanceOf(ViValidationError);
    await expect(t.client.assets.list({ datasetId, pageSize: 5000 })).rejects.toBeInstanceOf(ViValidationError);
  });
});
