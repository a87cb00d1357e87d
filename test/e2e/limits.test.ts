import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, MAX_MANIFEST_BYTES, type IngestionSession } from "@vi/protocol";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** One caller cannot exhaust memory or descriptors, nor stall everyone; old sessions do not pile up. */
describe("limits that protect the server", () => {
  let t: TestServer;
  let datasetId: string;
  const headers = () => ({
    authorization: `Bearer ${t.secretKey}`,
    "organization-id": t.organizationId,
    "content-type": "application/json",
  });

  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 40, maxConnections: 40, headersTimeoutSeconds: 1 });
    datasetId = (await t.client.datasets.create({ name: "limits" })).datasetId;
  });
  afterAll(async () => t?.stop());

  it("a manifest over the size limit is refused with 413 before it is parsed", async () => {
    const filler = "x".repeat(1000);
    const assets = Array.from({ length: Math.ceil(MAX_MANIFEST_BYTES / 1000) + 10 }, (_, i) => ({
      filename: `f${i}-${filler}.jpg`,
      mime: "image/jpeg",
      size: 1,
      crc32c: 0,
      kind: "Image",
    }));
    const res = await fetch(`${t.server.url}${apiPaths.ingestionSessions(t.organizationId, datasetId)}`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ spec: { kind: "Upload", assets } }),
    });
    expect(res.status).toBe(413);
  });

  it("custom metadata over its byte limit is refused, naming the file", async () => {
    const meta = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, "v".repeat(600)]));
    const res = await fetch(`${t.server.url}${apiPaths.ingestionSessions(t.organizationId, datasetId)}`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          assets: [
            { filename: "big.jpg", mime: "image/jpeg", size: 10, crc32c: 1, kind: "Image", customMetadata: meta },
          ],
        },
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/big\.jpg.*bytes/);
  });

  it("sessions past retention are purged; running ones are kept until their URLs expired", async () => {
    const open = async (assets: object[]) => {
      const res = await fetch(`${t.server.url}${apiPaths.ingestionSessions(t.organizationId, datasetId)}`, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({ spec: { kind: "Upload", failureMode: "FailAfterAll", assets } }),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as IngestionSession;
    };
    // Settled at once: its only file has an unsafe name.
    const settled = await open([{ filename: "../x.jpg", mime: "image/jpeg", size: 5, crc32c: 1, kind: "Image" }]);
    const running = await open([{ filename: "y.jpg", mime: "image/jpeg", size: 5, crc32c: 1, kind: "Image" }]);
    const status = (id: string) =>
      fetch(`${t.server.url}${apiPaths.ingestionSession(t.organizationId, datasetId, id)}`, { headers: headers() });
    // Nothing is old enough yet.
    await t.server.admin.purgeSessions();
    expect((await status(settled.assetIngestionSessionId)).status).toBe(200);
    // A week and an hour later: the settled session goes, the running one (URLs valid 24 h) is long expired too.
    const later = Date.now() + (t.server.config.sessionRetentionHours + 1) * 3600_000;
    const purged = await t.server.admin.purgeSessions(later);
    expect(purged.ingestion).toBeGreaterThanOrEqual(1);
    expect((await status(settled.assetIngestionSessionId)).status).toBe(404);
    const soon = await t.server.admin.purgeSessions(Date.now() + 3600_000);
    expect(soon.ingestion).toBe(0);
    void running;
  });

  it("slow-header connections are closed and the connection limit refuses the excess, then clients get in", async () => {
    const sockets: Socket[] = [];
    const { port } = new URL(t.server.url);
    for (let i = 0; i < 60; i++) {
      const s = connect(Number(port), "127.0.0.1");
      s.on("error", () => {});
      s.resume(); // read the 408, so that the close is seen
      s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // never finishes its headers
      sockets.push(s);
    }
    const closed = await Promise.all(
      sockets.map(
        (s) =>
          new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 15_000);
            s.once("close", () => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
      ),
    );
    expect(closed.every(Boolean)).toBe(true);
    const res = await fetch(`${t.server.url}/healthz`);
    expect(res.status).toBe(200);
  });

  it("rate-limits per key with 429 and Retry-After; another key is not held up", async () => {
    const other = await t.server.admin.createOrganization("other");
    let limited: Response | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await fetch(`${t.server.url}${apiPaths.datasets(t.organizationId)}`, { headers: headers() });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await limited!.json()) as { error: string }).error).toBe("RateLimitExceeded");
    const theirs = await fetch(`${t.server.url}${apiPaths.datasets(other.organizationId)}`, {
      headers: { authorization: `Bearer ${other.secretKey}`, "organization-id": other.organizationId },
    });
    expect(theirs.status).toBe(200);
  });
});
