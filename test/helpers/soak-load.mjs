/* global AbortController */
// The load run: uploaders and listers against a server in a child process, on loopback, for a
// fixed time. Every answer is checked (status, and what the listing promises: filters hold,
// sorts are sorted, a page walk meets no asset twice); the server's memory is sampled from
// /proc, CPU is measured on both sides, latencies are kept per request kind.
//
// The server's per-key rate limit (VI_RATE_LIMIT, default 6000/min) would turn this load into
// 429s within seconds: the run sets it to `rateLimitPerMinute` (default 10,000,000) and says so.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { apiPaths } from "@vi/protocol";
import { startServerProcess } from "./server-process.mjs";
import {
  cpuSeconds,
  digestOf,
  httpCaller,
  machineBusySeconds,
  memoryMb,
  prng,
  Recorder,
  seededJpeg,
  sha256Hex,
  sleep,
} from "./soak-kit.mjs";

export const LOAD_DEFAULTS = {
  durationMs: 60_000,
  uploaders: 32,
  listers: 8,
  filesPerSession: 8,
  /** Assets uploaded before the clock starts, so that listers have pages to walk. */
  seedAssets: 2_000,
  /** Pages a walk follows at most (of `walkPageSize`). */
  walkPages: 40,
  walkPageSize: 250,
  rateLimitPerMinute: 10_000_000,
  sampleEveryMs: 250,
  seed: undefined,
  home: undefined,
  keep: false,
  log: () => undefined,
};

const CAMERAS = ["north", "south", "east", "west"];
const pad = (n, w) => String(n).padStart(w, "0");

/** Answers the figures and every violation (an empty `violations` is a pass). */
export async function runLoad(options = {}) {
  const o = { ...LOAD_DEFAULTS, ...options };
  const seed = o.seed ?? randomBytes(4).readUInt32BE(0);
  const runId = randomBytes(6).toString("hex");
  const home = o.home ?? (await mkdtemp(join(tmpdir(), "vi-soak-load-")));
  const dataDir = join(home, "data");
  const env = { VI_RATE_LIMIT: String(o.rateLimitPerMinute) };
  const violations = [];
  const violate = (what) => {
    if (violations.length < 200) violations.push(what);
    if (violations.length <= 20) o.log(`  VIOLATION: ${what}`);
  };
  const server = await startServerProcess(dataDir, env);
  try {
    const org = server.creds.organizationId;
    const setup = httpCaller(server.url, server.creds, new Recorder());
    const created = await setup("dataset.create", "POST", apiPaths.datasets(org), { json: { name: "load" } });
    if (created.status !== 201) throw new Error(`dataset create answered ${created.status}`);
    const datasetId = created.json().datasetId.split("_").pop();
    /** Committed assets: {assetId, filename, sha256, uploader, camera, score}. */
    const known = [];
    let uploadedFiles = 0;
    let sessionsDone = 0;

    const uploadSession = async (call, rng, uploader, n) => {
      const files = [];
      for (let i = 0; i < o.filesPerSession; i++) {
        const filename = `u${pad(uploader, 2)}/s${pad(n, 5)}/f${i}.jpg`;
        const camera = rng.pick(CAMERAS);
        const score = Math.round(rng.next() * 1000) / 1000;
        files.push({ filename, camera, score, ...digestOf(seededJpeg(`${runId}/${filename}`)) });
      }
      const res = await call("session.create", "POST", apiPaths.ingestionSessions(org, datasetId), {
        json: {
          spec: {
            kind: "Upload",
            failureMode: "FailAfterAll",
            assets: files.map((f) => ({
              filename: f.filename,
              mime: "image/jpeg",
              size: f.size,
              crc32c: f.crc32c,
              sha256: f.sha256,
              customMetadata: { uploader, camera: f.camera, score: f.score, n },
              kind: "Image",
            })),
          },
        },
      });
      if (res.status !== 201)
        return violate(`session create answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
      const session = res.json();
      const targets = new Map(session.status.assets.map((a) => [a.metadata.filename, a.upload]));
      for (const f of files) {
        const target = targets.get(f.filename);
        if (!target) {
          violate(`no upload target for ${f.filename}`);
          continue;
        }
        const put = await call("put", "PUT", target.url, {
          signed: true,
          headers: target.headers,
          body: seededJpeg(`${runId}/${f.filename}`),
        });
        if (put.status !== 200) {
          violate(`PUT ${f.filename} answered ${put.status}: ${put.body.toString().slice(0, 200)}`);
          continue;
        }
        known.push({ assetId: put.json().assetId, filename: f.filename, sha256: f.sha256, uploader, ...f });
        uploadedFiles++;
      }
      const status = await call(
        "session.wait",
        "GET",
        apiPaths.ingestionSession(org, datasetId, session.assetIngestionSessionId),
        { query: { waitFor: "Finished", timeout: 30 } },
      );
      if (status.status !== 200) return violate(`session status answered ${status.status}`);
      const st = status.json().status;
      const finished = st.conditions.find((c) => c.condition === "Finished")?.status;
      if (finished !== "Reached" || st.progressCount.succeeded !== files.length)
        violate(`session ${session.assetIngestionSessionId}: ${finished}, ${st.progressCount.succeeded} succeeded`);
      sessionsDone++;
    };

    // ---- seed, off the clock ----
    const seedRng = prng(seed ^ 0x5eed);
    const seedSessions = Math.ceil(o.seedAssets / o.filesPerSession);
    let nextSeed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (nextSeed < seedSessions) {
          const n = nextSeed++;
          await uploadSession(setup, seedRng, 99, n);
        }
      }),
    );
    const seeded = uploadedFiles;
    o.log(
      `load: seeded ${seeded} assets; ${o.uploaders} uploaders + ${o.listers} listers for ${o.durationMs / 1000} s`,
    );

    // ---- the run ----
    const recorder = new Recorder();
    const call = httpCaller(server.url, server.creds, recorder);
    const samples = [];
    const stopAt = Date.now() + o.durationMs;
    const sampling = new AbortController();
    const sampler = (async () => {
      while (!sampling.signal.aborted) {
        try {
          samples.push({ t: Date.now(), ...(await memoryMb(server.pid)) });
        } catch {
          return;
        }
        await sleep(o.sampleEveryMs, sampling.signal);
      }
    })();
    const cpu0 = {
      server: await cpuSeconds(server.pid),
      client: process.cpuUsage(),
      machine: await machineBusySeconds(),
    };
    const t0 = performance.now();
    const counters = { walks: 0, walkPages: 0, checkedItems: 0, downloads: 0 };

    const uploaderLoop = async (u) => {
      const rng = prng(seed + u);
      for (let n = 0; n < 1_000_000 && Date.now() < stopAt; n++) {
        try {
          await uploadSession(call, rng, u, n);
        } catch (err) {
          violate(`uploader ${u}: ${err.message}`);
          await sleep(100);
        }
      }
    };

    const listed = (res, what) => {
      if (res.status !== 200) {
        violate(`${what} answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
        return undefined;
      }
      const page = res.json();
      counters.checkedItems += page.items.length;
      return page;
    };
    const assetsPath = apiPaths.assets(org, datasetId);
    const listerOps = [
      async () => {
        listed(await call("list.default", "GET", assetsPath, { query: { s: 100 } }), "default listing");
      },
      async (rng) => {
        const prefix = `u${pad(rng.int(0, o.uploaders - 1), 2)}/`;
        const page = listed(
          await call("list.filter", "GET", assetsPath, {
            query: { s: 100, filter: JSON.stringify({ filename: { prefix } }) },
          }),
          "filename prefix filter",
        );
        if (page?.items.some((a) => !a.filename.startsWith(prefix))) violate(`prefix ${prefix}: an item outside it`);
      },
      async (rng) => {
        const min = 52_000 + rng.int(0, 4_000);
        const page = listed(
          await call("list.size", "GET", assetsPath, {
            query: {
              s: 100,
              sortBy: "metadata.fileSize",
              o: "desc",
              filter: JSON.stringify({ fileSize: { gte: min } }),
            },
          }),
          "fileSize filter sorted by size",
        );
        const sizes = page?.items.map((a) => a.metadata.fileSize) ?? [];
        if (sizes.some((s, i) => s < min || (i > 0 && s > sizes[i - 1])))
          violate(`fileSize >= ${min} desc: out of order or range`);
      },
      async (rng) => {
        const camera = rng.pick(CAMERAS);
        const min = Math.round(rng.next() * 100) / 100;
        const page = listed(
          await call("list.query", "GET", assetsPath, {
            query: { s: 100, metadataQuery: `camera == "${camera.toUpperCase()}" and score >= ${min}` },
          }),
          "metadataQuery",
        );
        const bad = page?.items.find(
          (a) => a.metadata.customMetadata.camera !== camera || !(a.metadata.customMetadata.score >= min),
        );
        if (bad) violate(`query camera == ${camera} and score >= ${min} listed ${bad.filename}`);
      },
      async (rng) => {
        const u = rng.int(0, o.uploaders - 1);
        listed(
          await call("list.count", "GET", assetsPath, {
            query: { s: 10, count: "y", metadataQuery: `uploader == ${u}` },
          }),
          "count",
        );
      },
      async (rng) => {
        const order = rng.pick(["asc", "desc"]);
        const page = listed(
          await call("list.sort", "GET", assetsPath, { query: { s: 200, sortBy: "filename", o: order } }),
          "sorted by filename",
        );
        const names = page?.items.map((a) => a.filename) ?? [];
        const ok = names.every((f, i) => i === 0 || (order === "asc" ? names[i - 1] < f : names[i - 1] > f));
        if (!ok) violate(`sorted by filename ${order}: out of order`);
      },
      async () => {
        // A page walk in default order while uploads go on: no asset twice (PROTOCOL §8).
        const seen = new Set();
        let token;
        for (let p = 0; p < o.walkPages && Date.now() < stopAt; p++) {
          const page = listed(
            await call(p === 0 ? "walk.first" : "walk.next", "GET", assetsPath, {
              query: { s: o.walkPageSize, ...(token ? { p: token } : {}) },
            }),
            "page walk",
          );
          if (!page) return;
          counters.walkPages++;
          for (const a of page.items) {
            if (seen.has(a.assetId)) violate(`page walk met ${a.filename} twice`);
            seen.add(a.assetId);
          }
          token = page.nextPage;
          if (!token) break;
        }
        counters.walks++;
      },
      async (rng) => {
        const a = known[rng.int(0, known.length - 1)];
        if (!a) return;
        const res = await call("asset.get", "GET", apiPaths.asset(org, datasetId, a.assetId), {
          query: { contents: "y" },
        });
        if (res.status !== 200) return violate(`GET asset ${a.assetId} answered ${res.status}`);
        if (rng.next() < 0.5) {
          const bytes = await call("download", "GET", res.json().contents.asset.url, { signed: true });
          counters.downloads++;
          if (bytes.status !== 200 || sha256Hex(bytes.body) !== a.sha256)
            violate(`download of ${a.filename}: ${bytes.status}, SHA-256 ${sha256Hex(bytes.body)}`);
        }
      },
    ];
    const listerLoop = async (l) => {
      const rng = prng(seed * 31 + l);
      for (let n = 0; n < 10_000_000 && Date.now() < stopAt; n++) {
        try {
          await rng.pick(listerOps)(rng);
        } catch (err) {
          violate(`lister ${l}: ${err.message}`);
          await sleep(100);
        }
      }
    };

    await Promise.all([
      ...Array.from({ length: o.uploaders }, (_, u) => uploaderLoop(u)),
      ...Array.from({ length: o.listers }, (_, l) => listerLoop(l)),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const clientCpu = process.cpuUsage(cpu0.client);
    const serverCpu = (await cpuSeconds(server.pid)) - cpu0.server;
    const machineCpu = (await machineBusySeconds()) - cpu0.machine;
    sampling.abort();
    await sampler;
    const end = await memoryMb(server.pid);
    const rss = samples.map((s) => s.rss);
    const tenth = Math.max(1, Math.floor(rss.length / 10));
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const latencies = recorder.summary();
    const requests = Object.values(latencies).reduce((n, k) => n + k.count, 0);
    const serverErrors = recorder.countAtLeast(500);
    if (serverErrors > 0) violate(`${serverErrors} answers with a 5xx status`);
    return {
      seed,
      seconds,
      uploaders: o.uploaders,
      listers: o.listers,
      rateLimitPerMinute: o.rateLimitPerMinute,
      seededAssets: seeded,
      uploadedFiles: uploadedFiles - seeded,
      sessions: sessionsDone - seedSessions,
      requests,
      requestsPerSecond: requests / seconds,
      serverErrors,
      ...counters,
      cpu: {
        serverSeconds: serverCpu,
        clientSeconds: (clientCpu.user + clientCpu.system) / 1e6,
        serverCores: serverCpu / seconds,
        clientCores: (clientCpu.user + clientCpu.system) / 1e6 / seconds,
        /** Every process of the machine: what neither side used was other work on the same cores. */
        machineCores: machineCpu / seconds,
      },
      memory: {
        startRssMb: rss[0],
        peakRssMb: Math.max(end.peak, ...rss),
        endRssMb: end.rss,
        firstTenthMeanMb: mean(rss.slice(0, tenth)),
        lastTenthMeanMb: mean(rss.slice(-tenth)),
        samples: rss.length,
      },
      latencies,
      violations,
    };
  } finally {
    await server.stop();
    if (!o.keep && !o.home) await rm(home, { recursive: true, force: true });
  }
}
