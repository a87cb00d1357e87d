import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths } from "@vi/protocol";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { digestOf, seededJpeg, sha256Hex } from "./helpers/soak-kit.mjs";
import { scaleout } from "./helpers/s3-bucket.mjs";

/**
 * Fuzzing the API's inputs against a real server (in this process, over loopback): session
 * manifests, filenames, filters, queries, page tokens and signed URLs. Whatever comes in, the
 * answer is never a 5xx, and nothing of another organization ever shows: two organizations are
 * seeded, every request is made with organization A's key (or none, for signed URLs), and no
 * answer may hold B's ids, filenames, custom metadata or bytes unless the request itself did.
 *
 * The server's per-key rate limit is off here (rateLimitPerMinute: 0): the runs send a few
 * thousand requests with one key within a minute.
 */
const RUNS = Number(process.env.VI_FUZZ_RUNS ?? 200);
/** A listing answers 200 or 400; a query string past Node's 16 KiB of headers is refused with 431 before any route. */
const LISTING_STATUSES = [200, 400, 431];

interface Creds {
  organizationId: string;
  secretKey: string;
}
interface Reply {
  status: number;
  text: string;
  bytes: Buffer;
  headers: Headers;
}
interface Seeded {
  datasetId: string;
  assets: { assetId: string; filename: string; sha256: string; downloadUrl: string }[];
  sessionId: string;
  pendingUploadUrl: string;
}

let t: TestServer;
let A: Creds;
let B: Creds;
let a: Seeded;
let b: Seeded;
/** Strings only organization B's data holds. */
let secrets: string[];
/** B's ids (organization, dataset, session, assets). */
let idsB: string[];
const marker = `zulu${randomBytes(8).toString("hex")}`;

async function send(
  method: string,
  pathOrUrl: string,
  options: { creds?: Creds; query?: Record<string, string>; body?: unknown; raw?: string | Buffer } = {},
): Promise<Reply> {
  const url = new URL(pathOrUrl, t.server.url);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  if (options.creds) {
    headers.authorization = `Bearer ${options.creds.secretKey}`;
    headers["organization-id"] = options.creds.organizationId;
  }
  let body: string | Buffer | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: bytes.toString("utf8"), bytes, headers: res.headers };
}

/** What every answer must satisfy: no 5xx, and no trace of B that the request did not bring. */
function guard(reply: Reply, request: string): void {
  expect(reply.status, `${request} answered ${reply.status}: ${reply.text.slice(0, 500)}`).toBeLessThan(500);
  const headerText = [...reply.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  for (const s of secrets) {
    if (request.includes(s) || request.includes(encodeURIComponent(s))) continue;
    expect(reply.text.includes(s) || headerText.includes(s), `${request} leaked ${s}`).toBe(false);
  }
  const sha = sha256Hex(reply.bytes);
  expect(
    b.assets.some((x) => x.sha256 === sha),
    `${request} answered organization B's bytes`,
  ).toBe(false);
}

async function call(
  method: string,
  pathOrUrl: string,
  options: { creds?: Creds; query?: Record<string, string>; body?: unknown; raw?: string | Buffer } = {},
): Promise<Reply> {
  const reply = await send(method, pathOrUrl, options);
  const request = `${method} ${pathOrUrl} ${JSON.stringify(options.query ?? {})} ${
    options.body !== undefined ? JSON.stringify(options.body) : String(options.raw ?? "")
  }`;
  guard(reply, request);
  return reply;
}

async function seed(creds: Creds, name: string, files: { filename: string; custom: Record<string, unknown> }[]) {
  const org = creds.organizationId;
  const ds = await send("POST", apiPaths.datasets(org), { creds, body: { name } });
  expect(ds.status).toBe(201);
  const datasetId = (JSON.parse(ds.text) as { datasetId: string }).datasetId.split("_").pop()!;
  const bytes = files.map((f) => seededJpeg(`${marker}/${name}/${f.filename}`));
  const extra = seededJpeg(`${marker}/${name}/never-sent`);
  const manifest = [
    ...files.map((f, i) => ({ ...f, ...digestOf(bytes[i]!) })),
    { filename: "pending/never.jpg", custom: {}, ...digestOf(extra) },
  ];
  const opened = await send("POST", apiPaths.ingestionSessions(org, datasetId), {
    creds,
    body: {
      spec: {
        kind: "Upload",
        failureMode: "FailAfterAll",
        assets: manifest.map((f) => ({
          filename: f.filename,
          mime: "image/jpeg",
          size: f.size,
          crc32c: f.crc32c,
          sha256: f.sha256,
          customMetadata: f.custom,
          kind: "Image",
        })),
      },
    },
  });
  expect(opened.status).toBe(201);
  const session = JSON.parse(opened.text) as {
    assetIngestionSessionId: string;
    status: { assets: { metadata: { filename: string }; upload: { url: string } }[] };
  };
  const target = (f: string) => session.status.assets.find((x) => x.metadata.filename === f)!.upload.url;
  const assets: Seeded["assets"] = [];
  for (const [i, f] of files.entries()) {
    const put = await send("PUT", target(f.filename), { raw: bytes[i]! });
    expect(put.status, put.text).toBe(200);
    // The server's PUT answers the asset; a bucket's PUT answers nothing, and the asset appears
    // once a status read has the server verify the landed bytes.
    const assetId = put.text
      ? (JSON.parse(put.text) as { assetId: string }).assetId
      : await landedAsset(creds, datasetId, session.assetIngestionSessionId, f.filename);
    const got = await send("GET", apiPaths.asset(org, datasetId, assetId), { creds, query: { contents: "y" } });
    const downloadUrl = (JSON.parse(got.text) as { contents: { asset: { url: string } } }).contents.asset.url;
    assets.push({ assetId, filename: f.filename, sha256: digestOf(bytes[i]!).sha256, downloadUrl });
  }
  return {
    datasetId,
    assets,
    sessionId: session.assetIngestionSessionId,
    pendingUploadUrl: target("pending/never.jpg"),
  } satisfies Seeded;
}

/** The asset a file uploaded straight to a bucket became (status reads make the server look). */
async function landedAsset(creds: Creds, datasetId: string, sessionId: string, filename: string): Promise<string> {
  const org = creds.organizationId;
  for (let tries = 0; tries < 100; tries++) {
    await send("GET", apiPaths.ingestionSession(org, datasetId, sessionId), { creds });
    const listed = await send("GET", apiPaths.assets(org, datasetId), {
      creds,
      query: { filter: JSON.stringify({ filename }) },
    });
    // The filter matches case-insensitively ("P" lists "p" too): the asset is the one named exactly.
    const { items } = JSON.parse(listed.text) as { items: { assetId: string; filename: string }[] };
    const item = items.find((i) => i.filename === filename);
    if (item) return item.assetId;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${filename} never became an asset`);
}

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  A = { organizationId: t.organizationId, secretKey: t.secretKey };
  B = await t.server.admin.createOrganization("bravo");
  a = await seed(
    A,
    "alpha",
    Array.from({ length: 6 }, (_, i) => ({
      filename: `alpha/a${i}.jpg`,
      custom: { camera: i % 2 ? "north" : "South", score: i / 10, ok: i % 3 === 0 },
    })),
  );
  b = await seed(
    B,
    `bravo ${marker}`,
    Array.from({ length: 4 }, (_, i) => ({
      filename: `${marker}-dir/b${i}-${marker}.jpg`,
      custom: { camera: "north", score: i / 10, secret: `${marker}-value` },
    })),
  );
  secrets = [
    B.organizationId,
    B.secretKey,
    b.datasetId,
    b.sessionId,
    marker,
    ...b.assets.flatMap((x) => [x.assetId, x.sha256, x.filename]),
  ];
  idsB = [B.organizationId, b.datasetId, b.sessionId, ...b.assets.map((x) => x.assetId)];
  for (const s of secrets) expect(s.length).toBeGreaterThanOrEqual(20);
});

afterAll(async () => {
  await t?.stop();
});

const orgA = () => A.organizationId;

// ---- generators ----

const FILTER_FIELDS = [
  "status",
  "uploadStatus",
  "mimeType",
  "filename",
  "fileSize",
  "width",
  "height",
  "frames",
  "annotationCount",
  "timeCreated",
  "hasTag",
  "lacksTag",
  "assetIds",
  "customMetadata",
];
const jsonLeaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("uploaded", "image/jpeg", "alpha/", "north", 1e308, -0, 2 ** 53, "2024-01-01", "1"),
);
const rangeObject = fc.dictionary(fc.constantFrom("gt", "gte", "lt", "lte", "prefix", "eq", "x"), jsonLeaf, {
  maxKeys: 3,
});
const filterObject = fc.dictionary(
  fc.oneof({ arbitrary: fc.constantFrom(...FILTER_FIELDS), weight: 4 }, fc.string()),
  fc.oneof(
    jsonLeaf,
    rangeObject,
    fc.array(jsonLeaf, { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(jsonLeaf, rangeObject, fc.array(jsonLeaf, { maxLength: 3 })), {
      maxKeys: 3,
    }),
  ),
  { maxKeys: 4 },
);
const filterText = fc.oneof(
  { arbitrary: filterObject.map((f) => JSON.stringify(f)), weight: 5 },
  // The Python client's str(dict) form, and worse.
  filterObject.map((f) =>
    JSON.stringify(f)
      .replaceAll('"', "'")
      .replaceAll("true", "True")
      .replaceAll("false", "False")
      .replaceAll("null", "None"),
  ),
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
  fc.integer({ min: 1, max: 3000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
  fc.integer({ min: 1, max: 3000 }).map((n) => '{"customMetadata":'.repeat(n) + "1" + "}".repeat(n)),
);

const QUERY_TOKENS = [
  "camera",
  "score",
  "ok",
  "filename",
  "assetId",
  "metadata.fileSize",
  "metadata.width",
  "metadata.timeCreated",
  "metadata.customMetadata.camera",
  "metadata.annotations.withTag.car",
  "metadata.annotations.total",
  "`my key`",
  '["k"]',
  "metadata",
  "owner",
  "==",
  "=",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "in",
  "startsWith",
  "contains",
  "exists",
  "and",
  "or",
  "not",
  "&&",
  "||",
  "!",
  "(",
  ")",
  "[",
  "]",
  ",",
  '"north"',
  "'South'",
  '"\\u00e9"',
  '"\\ud800"',
  '"\\x"',
  '"2024-06-01"',
  '"alpha/"',
  "0",
  "-1",
  "0.5",
  "1e6",
  "1e999",
  "01",
  ".5",
  "true",
  "false",
  "null",
  "NaN",
];
const queryText = fc.oneof(
  {
    arbitrary: fc.array(fc.constantFrom(...QUERY_TOKENS), { minLength: 1, maxLength: 12 }).map((x) => x.join(" ")),
    weight: 6,
  },
  fc.array(fc.constantFrom(...QUERY_TOKENS), { maxLength: 12 }).map((x) => x.join("")),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 1, max: 5000 }).map((n) => "(".repeat(n) + "a == 1" + ")".repeat(n)),
  fc.integer({ min: 1, max: 5000 }).map((n) => "not ".repeat(n) + "a == 1"),
  fc.integer({ min: 1, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => `k${i} == ${i}`).join(" or ")),
);

const listOptions = fc.record(
  {
    s: fc.oneof(fc.integer({ min: -5, max: 1200 }).map(String), fc.string({ maxLength: 5 })),
    sortBy: fc.oneof(
      fc.constantFrom(
        "default",
        "assetId",
        "filename",
        "lastModified.contents",
        "metadata.fileSize",
        "metadata.width",
        "metadata.height",
        "metadata.timeCreated",
      ),
      fc.string({ maxLength: 10 }),
    ),
    o: fc.constantFrom("asc", "desc", "a", "d", "up", ""),
    strictQuery: fc.constantFrom("y", "n", ""),
    count: fc.constantFrom("y", ""),
    contents: fc.constantFrom("y", ""),
  },
  { requiredKeys: [] },
);

const SEGMENT_SPECIALS = [
  "..",
  ".",
  "",
  "%2e%2e",
  "a",
  "é",
  "e\u0301",
  " ",
  "~",
  "C:",
  "\u0000",
  "\\",
  "\u202e",
  "😀",
  "x".repeat(256),
  "\ud800",
  "a\udc00b",
  "\ufffe",
  "\u200b",
  "\u2028",
  "\u0085",
];
const filename = fc.oneof(
  fc
    .array(fc.oneof(fc.constantFrom(...SEGMENT_SPECIALS), fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 5 })
    .map((s) => s.join("/") + ".jpg"),
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
  fc.constantFrom("/etc/passwd", "../../x.jpg", "a//b.jpg", "a\\b.jpg", "x".repeat(1025), "line\nbreak.jpg"),
);

const customMetadata = fc.option(
  fc.dictionary(
    fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("__proto__", "constructor", "x".repeat(129), "")),
    fc.oneof(jsonLeaf, fc.string({ minLength: 1000, maxLength: 1100 }), fc.array(jsonLeaf, { maxLength: 2 })),
    { maxKeys: 5 },
  ),
  { nil: undefined },
);

// ---- the properties ----

describe("fuzzing the API: no 5xx, nothing of another organization", () => {
  it("session manifests", async () => {
    const fileSpec = fc.record(
      {
        filename,
        mime: fc.oneof(fc.constantFrom("image/jpeg", "image/png"), fc.string({ maxLength: 20 })),
        size: fc.oneof(
          fc.integer({ min: -10, max: 2_000_000 }),
          fc.double(),
          fc.constantFrom(2 ** 53, 2 ** 63, 1e300, 11 * 1024 ** 3),
        ),
        crc32c: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer(), fc.double()),
        sha256: fc.oneof(
          fc.stringMatching(/^[0-9a-f]{64}$/),
          fc.string({ maxLength: 70 }),
          fc.constantFrom(...b.assets.map((x) => x.sha256), ...a.assets.map((x) => x.sha256)),
        ),
        customMetadata,
        kind: fc.oneof(fc.constant("Image"), fc.string({ maxLength: 8 })),
      },
      { requiredKeys: ["filename", "size"] },
    );
    const body = fc.oneof(
      {
        arbitrary: fc.record(
          {
            spec: fc.record(
              {
                kind: fc.oneof(fc.constant("Upload"), fc.string({ maxLength: 8 })),
                failureMode: fc.constantFrom("FailAfterOne", "FailAfterAll", "Nope"),
                onAssetOverwritten: fc.constantFrom(
                  "RemoveLinkedResource",
                  "KeepLinkedResource",
                  "KeepLinkedResources",
                  "x",
                ),
                assets: fc.array(fileSpec, { maxLength: 6 }),
              },
              { requiredKeys: ["assets"] },
            ),
          },
          { requiredKeys: [] },
        ),
        weight: 6,
      },
      fc.jsonValue({ maxDepth: 5 }),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (manifest, othersDataset) => {
        const path = apiPaths.ingestionSessions(orgA(), othersDataset ? b.datasetId : a.datasetId);
        const reply = await call("POST", path, { creds: A, body: manifest });
        expect([201, 400, 404, 413]).toContain(reply.status);
        if (othersDataset) expect(reply.status === 404 || reply.status === 400).toBe(true);
        if (reply.status === 201) {
          const session = JSON.parse(reply.text) as { workspaceId: string; status: { deduplicated?: string[] } };
          expect(session.workspaceId).toBe(orgA());
        }
      }),
      { numRuns: RUNS },
    );
  });

  // Found by the manifest property on PostgreSQL (seed 882608128): a declared size of 2^63 passed
  // the schema (an integer-valued double) and overflowed the bigint column: 500.
  it("a declared size beyond 2^53 - 1 is refused with 400, on every store", async () => {
    for (const size of [2 ** 53, 2 ** 63]) {
      const reply = await call("POST", apiPaths.ingestionSessions(orgA(), a.datasetId), {
        creds: A,
        body: { spec: { kind: "Upload", assets: [{ filename: "huge.jpg", size, crc32c: 0 }] } },
      });
      expect(reply.status, reply.text).toBe(400);
      expect(reply.text).toMatch(/size/);
    }
  });

  // Found by the filename property: "a\udc00b.jpg" and "a\udc01b.jpg" were both accepted, stored
  // as "a\ufffd\ufffd\ufffdb.jpg", and the second upload silently replaced the first one's asset.
  it("a filename with an unpaired surrogate is refused, never stored under another name", async () => {
    for (const name of ["a\udc00b.jpg", "a\udc01b.jpg", "x/\ud800.jpg"]) {
      const d = digestOf(seededJpeg(`${marker}/surrogate/${name}`));
      const reply = await call("POST", apiPaths.ingestionSessions(orgA(), a.datasetId), {
        creds: A,
        body: {
          spec: { kind: "Upload", assets: [{ filename: name, size: d.size, crc32c: d.crc32c, sha256: d.sha256 }] },
        },
      });
      expect(reply.status).toBe(201);
      const session = JSON.parse(reply.text) as {
        status: { assets: unknown[]; events: { kind: string; files: Record<string, string> }[] };
      };
      expect(session.status.assets).toEqual([]);
      expect(session.status.events.flatMap((e) => Object.values(e.files ?? {}))).toEqual(["EUNKNOWN"]);
    }
  });

  // Found by the page token property: the token of JSON `null` answered 500.
  it("a page token that decodes to JSON null (or any non-object) is a 400", async () => {
    for (const json of ["null", "1", '"x"', "[]", "true"]) {
      const p = Buffer.from(json).toString("base64url");
      const reply = await call("GET", apiPaths.assets(orgA(), a.datasetId), { creds: A, query: { p } });
      expect(reply.status, `${json}: ${reply.text}`).toBe(400);
    }
  });

  it("another organization's SHA-256 in a manifest deduplicates nothing: its bytes are asked for", async () => {
    const theirs = b.assets[0]!;
    const bytes = await send("GET", theirs.downloadUrl);
    expect(bytes.status).toBe(200);
    const d = digestOf(bytes.bytes);
    const reply = await call("POST", apiPaths.ingestionSessions(orgA(), a.datasetId), {
      creds: A,
      body: {
        spec: {
          kind: "Upload",
          assets: [
            { filename: "claim/theirs.jpg", mime: "image/jpeg", size: d.size, crc32c: d.crc32c, sha256: d.sha256 },
          ],
        },
      },
    });
    expect(reply.status).toBe(201);
    const session = JSON.parse(reply.text) as {
      status: { deduplicated?: string[]; assets: { metadata: { filename: string } }[] };
    };
    expect(session.status.deduplicated ?? []).toEqual([]);
    expect(session.status.assets.map((x) => x.metadata.filename)).toEqual(["claim/theirs.jpg"]);
  });

  it("filenames", async () => {
    const names = await send("POST", apiPaths.datasets(orgA()), { creds: A, body: { name: "names" } });
    const datasetId = (JSON.parse(names.text) as { datasetId: string }).datasetId.split("_").pop()!;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(filename, async (name) => {
        const bytes = seededJpeg(`${marker}/names/${n++}`);
        const d = digestOf(bytes);
        const opened = await call("POST", apiPaths.ingestionSessions(orgA(), datasetId), {
          creds: A,
          body: {
            spec: {
              kind: "Upload",
              failureMode: "FailAfterAll",
              assets: [{ filename: name, mime: "image/jpeg", size: d.size, crc32c: d.crc32c, sha256: d.sha256 }],
            },
          },
        });
        expect([201, 400]).toContain(opened.status);
        if (opened.status !== 201) return;
        const session = JSON.parse(opened.text) as {
          status: {
            assets: { metadata: { filename: string }; upload: { url: string } }[];
            events: { kind: string; files?: Record<string, string> }[];
          };
        };
        const target = session.status.assets[0];
        if (!target) {
          // Refused in the manifest: an Error event says so.
          expect(session.status.events.some((e) => e.kind === "Error")).toBe(true);
          return;
        }
        const put = await call("PUT", target.upload.url, { raw: bytes });
        expect(put.status, put.text).toBe(200);
        const sessionId = (JSON.parse(opened.text) as { assetIngestionSessionId: string }).assetIngestionSessionId;
        const assetId = put.text
          ? (JSON.parse(put.text) as { assetId: string }).assetId
          : await landedAsset(A, datasetId, sessionId, name.normalize("NFC"));
        const got = await call("GET", apiPaths.asset(orgA(), datasetId, assetId), {
          creds: A,
          query: { contents: "y" },
        });
        expect(got.status).toBe(200);
        const asset = JSON.parse(got.text) as { filename: string; contents: { asset: { url: string } } };
        expect(asset.filename).toBe(name.normalize("NFC"));
        const url = new URL(asset.contents.asset.url);
        expect(url.origin).toBe(new URL(t.server.url).origin);
        expect(url.pathname.startsWith(`/files/${orgA()}/${datasetId}/${assetId}/`)).toBe(true);
        const download = await call("GET", asset.contents.asset.url);
        expect(download.status).toBe(200);
        expect(sha256Hex(download.bytes)).toBe(d.sha256);
        expect(download.headers.get("content-disposition")).toMatch(
          /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''/,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("filters, as listings and as bulk delete dry runs", async () => {
    await fc.assert(
      fc.asyncProperty(filterText, listOptions, fc.boolean(), async (filter, options, bulk) => {
        if (bulk) {
          let parsed: unknown = filter;
          try {
            parsed = JSON.parse(filter);
          } catch {
            // sent as the string it is
          }
          const reply = await call("POST", apiPaths.deleteManyAssetsSessions(orgA(), a.datasetId), {
            creds: A,
            body: { spec: { filter: parsed, metadataQuery: null, ruleQuery: null, strictQuery: true, dryRun: true } },
          });
          expect([201, 400]).toContain(reply.status);
          if (reply.status === 201)
            expect((JSON.parse(reply.text) as { status: { deleted: number } }).status.deleted).toBe(0);
          return;
        }
        const reply = await call("GET", apiPaths.assets(orgA(), a.datasetId), {
          creds: A,
          query: { ...options, filter },
        });
        expect(LISTING_STATUSES).toContain(reply.status);
        if (reply.status === 200) expectOwnItems(reply);
      }),
      { numRuns: RUNS },
    );
    expect(await countOf(A, a.datasetId)).toBe(a.assets.length);
  });

  it("metadataQuery, in listings and as bulk delete dry runs", async () => {
    await fc.assert(
      fc.asyncProperty(queryText, listOptions, fc.boolean(), async (metadataQuery, options, bulk) => {
        if (bulk) {
          const reply = await call("POST", apiPaths.deleteManyAssetsSessions(orgA(), a.datasetId), {
            creds: A,
            body: { spec: { filter: null, metadataQuery, ruleQuery: null, strictQuery: false, dryRun: true } },
          });
          expect([201, 400]).toContain(reply.status);
          return;
        }
        const reply = await call("GET", apiPaths.assets(orgA(), a.datasetId), {
          creds: A,
          query: { ...options, metadataQuery },
        });
        expect(LISTING_STATUSES).toContain(reply.status);
        if (reply.status === 200) expectOwnItems(reply);
      }),
      { numRuns: RUNS },
    );
    expect(await countOf(A, a.datasetId)).toBe(a.assets.length);
  });

  it("page tokens", async () => {
    // Real tokens: A's, in every sort order, and B's (made with B's key, replayed with A's).
    const tokens: { token: string; sortBy: string; o: string }[] = [];
    for (const creds of [A, B]) {
      const seeded = creds === A ? a : b;
      for (const sortBy of ["default", "assetId", "filename", "metadata.fileSize", "metadata.timeCreated"])
        for (const o of ["asc", "desc"]) {
          const page = await send("GET", apiPaths.assets(creds.organizationId, seeded.datasetId), {
            creds,
            query: { s: "1", sortBy, o },
          });
          const next = (JSON.parse(page.text) as { nextPage: string | null }).nextPage;
          if (next) tokens.push({ token: next, sortBy, o });
        }
    }
    expect(tokens.length).toBeGreaterThan(10);
    const mutated = fc.oneof(
      fc
        .tuple(fc.constantFrom(...tokens), fc.jsonValue({ maxDepth: 3 }), fc.constantFrom("k", "d", "v", "s", "x"))
        .map(([t, value, key]) => {
          const body = JSON.parse(Buffer.from(t.token, "base64url").toString("utf8")) as Record<string, unknown>;
          body[key] = value;
          return { ...t, token: Buffer.from(JSON.stringify(body)).toString("base64url") };
        }),
      fc.tuple(fc.constantFrom(...tokens), fc.nat(), fc.nat({ max: 63 })).map(([t, at, c]) => {
        const i = at % t.token.length;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return { ...t, token: t.token.slice(0, i) + alphabet[c] + t.token.slice(i + 1) };
      }),
      fc
        .tuple(fc.constantFrom(...tokens), fc.nat())
        .map(([t, n]) => ({ ...t, token: t.token.slice(0, n % t.token.length) })),
      fc.record({ token: fc.string({ maxLength: 100 }), sortBy: fc.constant("default"), o: fc.constant("asc") }),
      fc.record({
        token: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v)).toString("base64url")),
        sortBy: fc.constant("default"),
        o: fc.constant("asc"),
      }),
      fc.constantFrom(...tokens),
    );
    await fc.assert(
      fc.asyncProperty(mutated, fc.boolean(), async ({ token, sortBy, o }, keepOrder) => {
        const query: Record<string, string> = { p: token, s: "3" };
        if (keepOrder) Object.assign(query, { sortBy, o });
        const reply = await call("GET", apiPaths.assets(orgA(), a.datasetId), { creds: A, query });
        expect(LISTING_STATUSES).toContain(reply.status);
        if (reply.status === 200) expectOwnItems(reply);
      }),
      { numRuns: RUNS },
    );
  });

  it("signed upload and download URLs, mutated", async () => {
    // With a bucket the upload URL is the store's presigned PUT, whose checks are the store's
    // (s3rver, the test store, checks no signature): only the server's own URLs are fuzzed then.
    const originals = [
      { kind: "download", url: a.assets[0]!.downloadUrl, sha256: a.assets[0]!.sha256 },
      ...(scaleout() ? [] : [{ kind: "upload", url: a.pendingUploadUrl, sha256: undefined }]),
    ] as const;
    const others = [...b.assets.map((x) => x.downloadUrl), b.pendingUploadUrl];
    const segment = fc.oneof(
      fc.constantFrom(
        ...idsB,
        "..",
        "%2e%2e",
        "",
        ".",
        "0",
        "01",
        "1.0",
        "1e0",
        "-1",
        "9007199254740993",
        "%00",
        "x".repeat(300),
      ),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const mutation = fc.oneof(
      fc.record({ what: fc.constant("segment" as const), at: fc.nat(), value: segment }),
      fc.record({ what: fc.constant("drop-segment" as const), at: fc.nat() }),
      fc.record({ what: fc.constant("add-segment" as const), at: fc.nat(), value: segment }),
      fc.record({
        what: fc.constant("expires" as const),
        value: fc.oneof(
          fc.constantFrom("", "0", "1", "-1", "99999999999999999999", "1e13", "abc", " 1"),
          fc.integer({ min: 0, max: 2 ** 52 }).map(String),
        ),
      }),
      fc.record({
        what: fc.constant("signature" as const),
        value: fc.oneof(fc.string({ maxLength: 50 }), fc.base64String({ maxLength: 48 })),
      }),
      fc.record({ what: fc.constant("flip-signature" as const), at: fc.nat() }),
      fc.record({ what: fc.constant("drop-param" as const), name: fc.constantFrom("expires", "signature") }),
      fc.record({ what: fc.constant("other-query" as const), index: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...originals),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.constantFrom("GET", "HEAD", "PUT", "DELETE", "POST"),
        fc.uint8Array({ maxLength: 64 }),
        async (original, mutations, method, body) => {
          const url = new URL(original.url);
          for (const m of mutations) {
            const parts = url.pathname.split("/");
            if (m.what === "segment") parts[1 + (m.at % (parts.length - 1))] = m.value;
            if (m.what === "drop-segment" && parts.length > 2) parts.splice(1 + (m.at % (parts.length - 1)), 1);
            if (m.what === "add-segment") parts.splice(1 + (m.at % parts.length), 0, m.value);
            url.pathname = parts.join("/");
            if (m.what === "expires") url.searchParams.set("expires", m.value);
            if (m.what === "signature") url.searchParams.set("signature", m.value);
            if (m.what === "flip-signature") {
              const sig = url.searchParams.get("signature") ?? "";
              const i = m.at % Math.max(1, sig.length);
              url.searchParams.set("signature", sig.slice(0, i) + (sig[i] === "A" ? "B" : "A") + sig.slice(i + 1));
            }
            if (m.what === "drop-param") url.searchParams.delete(m.name);
            if (m.what === "other-query") {
              // Another organization's valid signature and expiry on this path.
              const theirs = new URL(others[m.index % others.length]!);
              url.searchParams.set("expires", theirs.searchParams.get("expires")!);
              url.searchParams.set("signature", theirs.searchParams.get("signature")!);
            }
          }
          const withBody = method === "PUT" || method === "POST";
          const reply = await call(method, url.toString(), withBody ? { raw: Buffer.from(body) } : {});
          // A mutation that lands on one of the web gallery's pages (`/x/..` is `/`) gets its app
          // shell: a public page that holds no one's data.
          const galleryPage = /^\/($|sign-in$|datasets(\/|$))/.test(url.pathname);
          if (galleryPage && reply.headers.get("content-type")?.startsWith("text/html")) return;
          if (reply.status === 200 || reply.status === 206) {
            // Only the URL's own target may answer, and only with its own bytes.
            if (original.kind === "download" && method === "GET") expect(sha256Hex(reply.bytes)).toBe(original.sha256);
            if (original.kind === "upload") expect(method).toBe("PUT");
          }
        },
      ),
      { numRuns: RUNS },
    );
    // B's data is as it was: every asset there, with its bytes.
    const listing = await send("GET", apiPaths.assets(B.organizationId, b.datasetId), {
      creds: B,
      query: { s: "100" },
    });
    const items = (JSON.parse(listing.text) as { items: { assetId: string }[] }).items.map((x) => x.assetId).sort();
    expect(items).toEqual(b.assets.map((x) => x.assetId).sort());
    for (const x of b.assets) expect(sha256Hex((await send("GET", x.downloadUrl)).bytes)).toBe(x.sha256);
  });

  it("paths that mix both organizations' ids, with A's key", async () => {
    const ids = fc.constantFrom(
      A.organizationId,
      B.organizationId,
      a.datasetId,
      b.datasetId,
      `${B.organizationId}_${b.datasetId}`,
      `${A.organizationId}_${b.datasetId}`,
      `${B.organizationId}_${a.datasetId}`,
      ...b.assets.map((x) => x.assetId),
      "no-such-asset",
      b.sessionId,
    );
    const path = fc
      .tuple(
        ids,
        ids,
        ids,
        fc.constantFrom(
          "assets",
          "annotations",
          "deleteManyAssetsSessions",
          "assetSources/managed/datature/transient/assetIngestionSessions",
          "secretKeys",
        ),
      )
      .map(([org, d, x, tail]) => [
        `/workspaces/${org}`,
        `/workspaces/${org}/datasets/${d}`,
        `/workspaces/${org}/datasets/${d}/assets/${x}`,
        `/workspaces/${org}/datasets/${d}/${tail}/${x}`,
        `/workspaces/${org}/datasets/${d}/assets/${x}/annotations`,
      ]);
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.nat({ max: 4 }),
        fc.constantFrom("GET", "DELETE", "PATCH", "POST"),
        async (paths, i, method) => {
          const p = paths[i]!;
          const touchesB = idsB.some((id) => p.includes(id));
          // A's own dataset is not deleted here (that would be A's right, and end the other runs).
          if (method === "DELETE" && !touchesB) return;
          const body =
            method === "PATCH" ? { customMetadata: { x: 1 } } : method === "POST" ? { spec: { tag: "x" } } : undefined;
          const reply = await call(method, p, { creds: A, ...(body ? { body } : {}) });
          if (touchesB) expect([400, 404, 405]).toContain(reply.status);
        },
      ),
      { numRuns: RUNS },
    );
    expect(await countOf(B, b.datasetId)).toBe(b.assets.length);
  });
});

function expectOwnItems(reply: Reply): void {
  const page = JSON.parse(reply.text) as { items: { workspaceId: string; datasetId: string; assetId: string }[] };
  for (const item of page.items) {
    expect(item.workspaceId).toBe(orgA());
    expect(a.assets.some((x) => x.assetId === item.assetId)).toBe(true);
  }
}

async function countOf(creds: Creds, datasetId: string): Promise<number> {
  const reply = await send("GET", apiPaths.dataset(creds.organizationId, datasetId), { creds });
  return (JSON.parse(reply.text) as { statistic: { assetTotal: number } }).statistic.assetTotal;
}
