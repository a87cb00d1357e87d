import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, SECRET_KEY_PATTERN, type IngestionSession } from "@vi/protocol";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";
import { textOfTables } from "../helpers/test-database.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

/**
 * The wire contract as a raw HTTP client sees it, including what the official Python client
 * does (docs/python-client-wire.md): JSON content type on body-less requests, PUTs without a
 * content type or credentials, empty bodies on asset deletes.
 */
describe("HTTP contract", () => {
  let t: TestServer;
  let datasetId: string;
  let headers: Record<string, string>;
  const photo = join(FIXTURES, "valid", "photo-baseline.jpg");

  beforeAll(async () => {
    t = await startTestServer();
    datasetId = (await t.client.datasets.create({ name: "wire" })).datasetId;
    headers = {
      authorization: `Bearer ${t.secretKey}`,
      "organization-id": t.organizationId,
      "content-type": "application/json",
    };
  });
  afterAll(async () => t?.stop());

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${t.server.url}${path}`, { ...init, headers: { ...headers, ...(init.headers as object) } });

  async function openSession(filename: string, bytes: Buffer, extra: object = {}): Promise<IngestionSession> {
    const res = await api(apiPaths.ingestionSessions(t.organizationId, datasetId), {
      method: "POST",
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode: "FailAfterAll",
          assets: [
            {
              filename,
              mime: "image/jpeg",
              size: bytes.length,
              crc32c: crc32c(bytes) | 0,
              customMetadata: null,
              kind: "Image",
            },
          ],
          ...extra,
        },
      }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as IngestionSession;
  }

  it("every response carries a request id, and errors have the contract's shape", async () => {
    const res = await api(`/workspaces/${t.organizationId}/datasets/${t.organizationId}_missing`);
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: "ResourceNotFound", traceId: res.headers.get("x-request-id") });
    expect(String(body.message)).toContain("missing");
    const unauth = await fetch(`${t.server.url}/workspaces`);
    expect(unauth.status).toBe(401);
    expect(((await unauth.json()) as { error: string }).error).toBe("AuthenticationFailed");
  });

  it("secret keys have the dtvi_ shape and a new one works at once", async () => {
    expect(t.secretKey).toMatch(SECRET_KEY_PATTERN);
    const res = await api(apiPaths.secretKeys(t.organizationId), {
      method: "POST",
      body: JSON.stringify({ name: "ci" }),
    });
    expect(res.status).toBe(201);
    const { secretKey } = (await res.json()) as { secretKey: string };
    expect(secretKey).toMatch(SECRET_KEY_PATTERN);
    expect(secretKey).not.toBe(t.secretKey);
    const again = await fetch(`${t.server.url}/workspaces`, { headers: { authorization: `Bearer ${secretKey}` } });
    expect(again.status).toBe(200);
  });

  it("stores keys hashed: the clear key is nowhere in the data dir", async () => {
    const secretPart = t.secretKey.slice(5);
    if (t.server.config.databaseUrl) {
      // On PostgreSQL: nowhere in the tables that hold keys, organizations and settings.
      const rows = await textOfTables(t.server.config.databaseUrl, ["secret_keys", "organizations", "settings"]);
      expect(rows).toContain(t.organizationId);
      expect(rows.includes(secretPart)).toBe(false);
      return;
    }
    const db = await readFile(join(t.dataDir, "metadata.sqlite"));
    const wal = await readFile(join(t.dataDir, "metadata.sqlite-wal")).catch(() => Buffer.alloc(0));
    expect(db.includes(secretPart)).toBe(false);
    expect(wal.includes(secretPart)).toBe(false);
  });

  it.skipIf(
    localOnly(
      "the API server's own upload PUT (answers, signatures, refusals); with a bucket the PUT goes to the store: test/e2e/s3-store.test.ts",
    ),
  )(
    "an upload session answers signed PUT targets; a PUT with no content type and no credentials commits the asset",
    async () => {
      const bytes = await readFile(photo);
      const session = await openSession("raw.jpg", bytes);
      expect(session.kind).toBe("AssetIngestionSession");
      expect(session.status.assets).toHaveLength(1);
      const target = session.status.assets[0]!;
      expect(target.metadata.filename).toBe("raw.jpg");
      expect(target.upload.method).toBe("PUT");
      expect(target.upload.expiry).toBeGreaterThan(Date.now());

      const put = await fetch(target.upload.url, { method: "PUT", body: bytes });
      expect(put.status).toBe(200);
      // A retried PUT (the client lost the answer) is one asset, not two.
      const retry = await fetch(target.upload.url, { method: "PUT", body: bytes });
      expect(retry.status).toBe(200);
      expect(((await retry.json()) as { assetId: string }).assetId).toBe(
        ((await put.json()) as { assetId: string }).assetId,
      );
      // Other bytes under the committed file's URL are no retry: refused, and the asset keeps its bytes.
      const other = Buffer.from(bytes);
      other.writeUInt8(other.readUInt8(other.length - 3) ^ 0xff, other.length - 3);
      const conflicting = await fetch(target.upload.url, { method: "PUT", body: other });
      expect(conflicting.status).toBe(409);
      expect(((await conflicting.json()) as { message: string }).message).toContain("raw.jpg");
      const longer = await fetch(target.upload.url, { method: "PUT", body: Buffer.concat([bytes, Buffer.from("x")]) });
      expect(longer.status).toBe(409);

      const status = await api(
        `${apiPaths.ingestionSession(t.organizationId, datasetId, session.assetIngestionSessionId)}?waitFor=Finished&timeout=5`,
      );
      const done = (await status.json()) as IngestionSession;
      expect(done.status.progressCount).toEqual({ total: 1, succeeded: 1, errored: 0 });
      expect(done.status.conditions.find((c) => c.condition === "Finished")?.status).toBe("Reached");
      const list = (await (await api(`${apiPaths.assets(t.organizationId, datasetId)}?s=10`)).json()) as {
        items: unknown[];
      };
      expect(list.items).toHaveLength(1);
    },
  );

  it.skipIf(
    localOnly(
      "the API server's own upload PUT (answers, signatures, refusals); with a bucket the PUT goes to the store: test/e2e/s3-store.test.ts",
    ),
  )("a tampered or foreign upload signature is 403 and stores nothing", async () => {
    const bytes = await readFile(photo);
    const session = await openSession("tampered.jpg", bytes);
    const url = new URL(session.status.assets[0]!.upload.url);
    const badSig = url.href.replace(/signature=[^&]+/, "signature=AAAA");
    const otherIndex = url.href.replace(/\/0\?/, "/1?");
    // The same number written otherwise is not the signed path.
    const nonCanonical = ["/00?", "/0x0?", "/+0?", "/0.0?"].map((p) => url.href.replace(/\/0\?/, p));
    for (const href of [badSig, otherIndex, ...nonCanonical]) {
      const res = await fetch(href, { method: "PUT", body: bytes });
      expect(res.status, href).toBe(403);
    }
    const status = (await (
      await api(apiPaths.ingestionSession(t.organizationId, datasetId, session.assetIngestionSessionId))
    ).json()) as IngestionSession;
    expect(status.status.progressCount.succeeded).toBe(0);
  });

  it.skipIf(localOnly("uses the asset the server's own upload PUT made above"))(
    "a download URL whose generation is written otherwise (01, 0x1) is refused, not normalised",
    async () => {
      const bytes = await readFile(photo);
      const session = await openSession("canonical.jpg", bytes);
      expect((await fetch(session.status.assets[0]!.upload.url, { method: "PUT", body: bytes })).status).toBe(200);
      const list = (await (await api(`${apiPaths.assets(t.organizationId, datasetId)}?s=100&contents=y`)).json()) as {
        items: { filename: string; contents: { asset: { url: string } } }[];
      };
      const url = list.items.find((a) => a.filename === "canonical.jpg")!.contents.asset.url;
      expect((await fetch(url)).status).toBe(200);
      for (const g of ["01", "0x1", "1.0"]) {
        const res = await fetch(url.replace("/1/canonical.jpg", `/${g}/canonical.jpg`));
        expect(res.status, g).toBe(403);
      }
    },
  );

  it.skipIf(
    localOnly(
      "the API server's own upload PUT (answers, signatures, refusals); with a bucket the PUT goes to the store: test/e2e/s3-store.test.ts",
    ),
  )("bytes that do not match the manifest fail that file with ECORRUPT or EBADSIZE, with a reason", async () => {
    const bytes = await readFile(photo);
    const session = await openSession("mismatch.jpg", bytes);
    const flipped = Buffer.from(bytes);
    flipped[1000] = flipped[1000]! ^ 0xff;
    const res = await fetch(session.status.assets[0]!.upload.url, { method: "PUT", body: flipped });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/CRC-32C/);
    const status = (await (
      await api(apiPaths.ingestionSession(t.organizationId, datasetId, session.assetIngestionSessionId))
    ).json()) as IngestionSession;
    const errors = status.status.events.find((e) => e.kind === "Error");
    expect(errors).toMatchObject({ files: { "mismatch.jpg": "ECORRUPT" } });

    const short = await openSession("short.jpg", bytes);
    const res2 = await fetch(short.status.assets[0]!.upload.url, { method: "PUT", body: bytes.subarray(0, 100) });
    expect(res2.status).toBe(413);
  });

  it("answers the Python client's plural KeepLinkedResources, accepting the singular", async () => {
    const bytes = await readFile(photo);
    const session = await openSession("keep.jpg", bytes, { onAssetOverwritten: "KeepLinkedResource" });
    expect(session.spec.onAssetOverwritten).toBe("KeepLinkedResources");
  });

  it.skipIf(localOnly("uses the asset the server's own upload PUT made above"))(
    "DELETE of an asset with a JSON content type and no body answers 2xx with an empty body",
    async () => {
      const list = (await (await api(apiPaths.assets(t.organizationId, datasetId))).json()) as {
        items: { assetId: string }[];
      };
      const res = await api(apiPaths.asset(t.organizationId, datasetId, list.items[0]!.assetId), { method: "DELETE" });
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
      expect(await res.text()).toBe("");
    },
  );

  it("serves an OpenAPI document generated from the schemas, and a docs page", async () => {
    const res = await fetch(`${t.server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/workspaces/{org}/datasets",
        "/workspaces/{org}/datasets/{D}/assets",
        "/workspaces/{org}/datasets/{D}/assetSources/managed/datature/transient/assetIngestionSessions",
      ]),
    );
    const page = await fetch(`${t.server.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });
});
