import { createHash } from "node:crypto";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore } from "../src/store/metadata/postgres.js";
import { openCoordination, type Coordination } from "../src/store/metadata/postgres-coordination.js";
import type { KyselyMetadataStore } from "../src/store/metadata/kysely-store.js";
import type { IngestionFileRecord } from "../src/store/metadata/records.js";
import { createTestDatabase, scaleout } from "../../../test/helpers/test-database.mjs";

/**
 * Several stores on one database stand for several replicas: what must happen once happens
 * once however their transactions interleave. Each race runs many times at once, so that
 * without its lock it fails (a second organization, a unique violation, two lock holders).
 */
describe.skipIf(!scaleout())("replicas on one PostgreSQL, store level (needs npm run test:scaleout)", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const stores: KyselyMetadataStore[] = [];
  const coordinations: Coordination[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // Opened together: the migrations run once, under Kysely's migration lock.
    stores.push(...(await Promise.all([0, 1, 2, 3].map(() => openPostgresStore(database.url)))));
    coordinations.push(...(await Promise.all([0, 1].map(() => openCoordination(database.url)))));
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const c of coordinations) await c.close();
    await database?.drop();
  });

  const key = (orgId: string, i: number) => ({
    keyId: `${orgId}-k${i}`,
    orgId,
    name: "initial",
    keyHash: createHash("sha256").update(`${orgId}${i}`).digest("hex"),
    createdAt: 0,
  });

  it("the first organization is created by exactly one of the stores racing to create it", async () => {
    const created = await Promise.all(
      stores.flatMap((s, i) =>
        [0, 1, 2].map((j) => {
          const orgId = `org-${i}-${j}`;
          return s.createOrganization({ orgId, name: "default", createdAt: 0 }, key(orgId, 0), true);
        }),
      ),
    );
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await stores[0]!.countOrganizations()).toBe(1);
  });

  it("commits of the same filenames from two stores at once end with one asset per filename", async () => {
    const orgId = "race-org";
    await stores[0]!.createOrganization({ orgId, name: "race", createdAt: 0 }, key(orgId, 1));
    await stores[0]!.createDataset({
      orgId,
      datasetId: "ds",
      name: "race",
      description: null,
      type: "Dataset",
      content: "Image",
      createdAt: 0,
      lastAccessed: 0,
    });
    const FILES = 40;
    const t = Date.now();
    // One upload session per store, each naming every file, with bytes of its own.
    const sessions = await Promise.all(
      stores.slice(0, 2).map(async (store, side) => {
        const sessionId = `session-${side}`;
        const files: IngestionFileRecord[] = Array.from({ length: FILES }, (_, i) => ({
          sessionId,
          fileIndex: i,
          filename: `img-${i}.jpg`,
          mime: "image/jpeg",
          size: 100,
          crc32c: 0,
          sha256: null,
          customMetadata: null,
          state: "pending",
          errorCode: null,
          errorMessage: null,
          assetId: null,
          deduplicated: false,
          updatedAt: t,
        }));
        await store.createSession(
          {
            sessionId,
            orgId,
            datasetId: "ds",
            failureMode: "FailAfterAll",
            onOverwrite: "RemoveLinkedResource",
            state: "Running",
            failureReason: null,
            total: FILES,
            succeeded: 0,
            errored: 0,
            createdAt: t,
            updatedAt: t,
            expiresAt: t + 3600_000,
            generation: 1,
          },
          files,
        );
        return sessionId;
      }),
    );
    const commit = (side: number, i: number) =>
      stores[side]!.commitFiles([
        {
          sessionId: sessions[side]!,
          fileIndex: i,
          newAssetId: `asset-${side}-${i}`,
          asset: {
            filename: `img-${i}.jpg`,
            sha256: createHash("sha256").update(`${side}/${i}`).digest("hex"),
            fileSize: 100,
            mimeType: "image/jpeg",
            width: 1,
            height: 1,
            rawWidth: 1,
            rawHeight: 1,
            orientation: 1,
            frames: 1,
            customMetadata: { side },
          },
        },
      ]);
    const results = await Promise.all(Array.from({ length: FILES }, (_, i) => [commit(0, i), commit(1, i)]).flat());
    // Every commit succeeded: the second of each pair replaced the first's asset.
    expect(results.every((r) => r[0] !== undefined)).toBe(true);
    const listed = await stores[2]!.listAssets({
      orgId,
      datasetId: "ds",
      sortKey: "filename",
      descending: false,
      limit: 1000,
    });
    expect(listed.map((a) => a.filename).sort()).toEqual(
      Array.from({ length: FILES }, (_, i) => `img-${i}.jpg`).sort(),
    );
    expect(await stores[3]!.countAssets(orgId, "ds")).toBe(FILES);
    // Each asset holds the bytes of the commit that came last, and only those are referenced.
    for (const a of listed) expect(a.generation).toBe(2);
    expect(await stores[0]!.unreferencedBlobs(listed.map((a) => a.sha256))).toEqual([]);
  });

  it("a blob lock is held by one replica at a time", async () => {
    const [a, b] = coordinations.map((c) => c.locks("blob"));
    let holders = 0;
    let most = 0;
    const hold = async () => {
      holders++;
      most = Math.max(most, holders);
      await new Promise((r) => setTimeout(r, 5));
      holders--;
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a! : b!).run("same-sha", hold)));
    expect(most).toBe(1);
    // Different keys do not wait for each other.
    holders = 0;
    most = 0;
    await Promise.all([a!.run("x", hold), b!.run("y", hold)]);
    expect(most).toBe(2);
  });

  it("a change emitted in one replica wakes listeners in the other (LISTEN/NOTIFY), once", async () => {
    const [here, there] = coordinations.map((c) => c.channel("session_changes"));
    const heardThere = once(there!, "s-1", { signal: AbortSignal.timeout(5000) });
    let heardHere = 0;
    here!.on("s-1", () => heardHere++);
    here!.emit("s-1");
    await heardThere;
    // Its own notification comes back through LISTEN and is not emitted again.
    await new Promise((r) => setTimeout(r, 300));
    expect(heardHere).toBe(1);
    // Listening is no change: adding and removing listeners here notifies nobody there.
    let meta = 0;
    there!.on("newListener", () => meta++);
    const listener = () => undefined;
    here!.on("s-2", listener);
    here!.off("s-2", listener);
    await new Promise((r) => setTimeout(r, 300));
    expect(meta).toBe(0);
  });
});
