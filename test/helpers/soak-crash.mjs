/* global AbortController, setTimeout, clearTimeout */
// The crash loop: rounds of a large upload with concurrent single and bulk deletes, each ended
// by SIGKILL of the server at a random point, then checked from the outside.
//
// The client keeps a log of what it was told: a file is acknowledged when its PUT answered 200
// with its asset id (and its session, once settled, counts it as succeeded); a delete counts
// once it answered 204, a bulk delete once its session reports Finished. What was in flight
// when the server died is ambiguous and is settled by what the server shows after the restart
// (a PUT may have committed or not, a delete may have happened or not, a bulk delete whose POST
// got no answer may exist or not: the killed server's database says). After each kill:
//
//   - at the kill, from the SQLite file (read-only) and the blob folder: every row has its bytes
//     at their size, reference counts and counters agree, every acknowledged file is a row, and
//     every row is acknowledged or was in flight; bytes without a row are counted (a crash may
//     leave them) and must be exactly what the restart sweeps;
//   - after the restart: `staging/` is empty, unfinished bulk deletes finish, the listing equals
//     the client's log, and every file of the round (and a sample of older ones) reads back
//     with its SHA-256;
//   - after a clean stop: bytes on disk are exactly the referenced ones (no orphan survived).
//
// Every loop is bounded in count and in time; only 127.0.0.1 is reached.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { apiPaths } from "@vi/protocol";
import { Client } from "@vi/sdk";
import { startServerProcess } from "./server-process.mjs";
import { inspectStore } from "./soak-store.mjs";
import { digestOf, httpCaller, mapLimit, prng, Recorder, seededJpeg, sha256Hex, sleep } from "./soak-kit.mjs";

const pad = (n, w) => String(n).padStart(w, "0");

/** A set with O(1) random picks. */
class PickSet {
  #items = [];
  #index = new Map();
  get size() {
    return this.#items.length;
  }
  add(v) {
    if (this.#index.has(v)) return;
    this.#index.set(v, this.#items.length);
    this.#items.push(v);
  }
  delete(v) {
    const i = this.#index.get(v);
    if (i === undefined) return;
    const last = this.#items.pop();
    this.#index.delete(v);
    if (i < this.#items.length) {
      this.#items[i] = last;
      this.#index.set(last, i);
    }
  }
  pick(rng) {
    return this.#items.length === 0 ? undefined : this.#items[Math.floor(rng.next() * this.#items.length)];
  }
}

export const CRASH_DEFAULTS = {
  rounds: 20,
  filesPerRound: 10_000,
  /** Files per ingestion session (sessions of a round open one after the other). */
  sessionSize: 2_500,
  putConcurrency: 16,
  /** Files per block: the unit of a bulk delete (`rNN/bNNN/` prefix and `round == N and block == M`). */
  blockSize: 100,
  /** VI_DELETE_BATCH_SIZE of the server: small, so that bulk deletes are in flight when it dies. */
  deleteBatchSize: 4,
  /** Pause between single deletes, ms (random in range). */
  singleDeletePauseMs: [20, 100],
  /** Pause between bulk deletes, ms (random in range). */
  bulkDeletePauseMs: [800, 2500],
  /** Bulk delete sessions open at once, at most. */
  maxOpenBulks: 3,
  /** After the kill point is reached, a further random delay, ms. */
  killDelayMs: [0, 250],
  /**
   * Share of rounds killed just after a bulk delete POST went out (0 to 40 ms later, once the
   * round's random ack count is reached), so that the answer of the POST is lost with the
   * server and the killed database has to say whether the session exists.
   */
  killOnBulkPostShare: 0.25,
  /** Files of older rounds read back after each restart, besides all of the round's own. */
  oldSample: 200,
  readbackConcurrency: 8,
  /** A round that runs longer is killed anyway (and says so). */
  roundTimeoutMs: 10 * 60_000,
  seed: undefined,
  /** Where the data folder goes (a fresh temporary folder by default); removed at the end unless `keep`. */
  home: undefined,
  keep: false,
  log: () => undefined,
};

/**
 * Runs the loop; answers the figures and every violation found (an empty `violations` is a
 * pass). Throws only on a harness failure (a server that does not start).
 */
export async function runCrashLoop(options = {}) {
  const o = { ...CRASH_DEFAULTS, ...options };
  const seed = o.seed ?? randomBytes(4).readUInt32BE(0);
  const rng = prng(seed);
  const runId = randomBytes(6).toString("hex");
  const home = o.home ?? (await mkdtemp(join(tmpdir(), "vi-soak-crash-")));
  const dataDir = join(home, "data");
  const env = { VI_DELETE_BATCH_SIZE: String(o.deleteBatchSize), VI_RATE_LIMIT: "0" };
  const recorder = new Recorder();
  const violations = [];
  const started = Date.now();
  const stats = {
    seed,
    rounds: 0,
    kills: 0,
    filesOffered: 0,
    putsSent: 0,
    acknowledged: 0,
    sessionsChecked: 0,
    inFlightPutsAtKill: 0,
    committedUnacknowledged: 0,
    singleDeletes: 0,
    ambiguousSingleDeletes: { happened: 0, didNot: 0 },
    bulkSessions: 0,
    bulkAssetsDeleted: 0,
    ambiguousBulkPosts: { existed: 0, didNot: 0 },
    bulkRunningAtKill: 0,
    killedDuringUpload: 0,
    killedAfterBulkPost: 0,
    orphansAtKill: 0,
    orphansSweptAtRestart: 0,
    stagingAtKill: 0,
    stagingRemovedAtRestart: 0,
    stagingLeftAfterRestart: 0,
    rowsWithoutBytes: 0,
    storeProblems: 0,
    orphansAfterRecovery: 0,
    lost: 0,
    phantoms: 0,
    readbacks: 0,
    readbackMismatches: 0,
    listingEqualsLog: 0,
    finalAssets: 0,
  };
  const violate = (round, what) => {
    violations.push(`round ${round}: ${what}`);
    o.log(`  VIOLATION round ${round}: ${what}`);
  };

  // ---- the client's log ----
  /** filename -> {assetId, sha256, round, block} of every acknowledged, not deleted file. */
  const acked = new Map();
  const ackedNames = new PickSet();
  /** block key -> filenames of its acknowledged files. */
  const blockFiles = new Map();
  /** Blocks whose every file has an answer (or was never sent): bulk delete candidates. */
  const settledBlocks = new PickSet();
  /** Blocks a bulk delete has taken (sending, open, or unresolved). */
  const takenBlocks = new Set();
  const remember = (filename, entry) => {
    acked.set(filename, entry);
    ackedNames.add(filename);
    const key = blockKey(entry.round, entry.block);
    if (!blockFiles.has(key)) blockFiles.set(key, new Set());
    blockFiles.get(key).add(filename);
  };
  const forget = (filename) => {
    const entry = acked.get(filename);
    if (!entry) return;
    acked.delete(filename);
    ackedNames.delete(filename);
    blockFiles.get(blockKey(entry.round, entry.block))?.delete(filename);
  };

  let server = await startServerProcess(dataDir, env);
  let call = httpCaller(server.url, server.creds, recorder);
  const org = server.creds.organizationId;
  const created = await call("dataset.create", "POST", apiPaths.datasets(org), { json: { name: "crash loop" } });
  if (created.status !== 201) throw new Error(`dataset create answered ${created.status}: ${created.body}`);
  const datasetId = created.json().datasetId.split("_").pop();
  o.log(`crash loop: seed ${seed}, ${o.rounds} rounds of ${o.filesPerRound} files, data in ${dataDir}`);

  try {
    for (let round = 1; round <= o.rounds; round++) {
      if (Date.now() - started > o.rounds * o.roundTimeoutMs) {
        violate(round, "the loop ran out of time");
        break;
      }
      await runRound(round);
      stats.rounds = round;
    }
  } finally {
    await server?.stop().catch(() => undefined);
    server = undefined;
    if (!o.keep && !o.home) await rm(home, { recursive: true, force: true });
  }
  stats.finalAssets = acked.size;
  return { ...stats, durationMs: Date.now() - started, latencies: recorder.summary(), violations, dataDir };

  function blockKey(round, block) {
    return `${round}/${block}`;
  }

  async function runRound(round) {
    const roundStarted = Date.now();
    const violationsBefore = violations.length;
    let killed = false;
    const stop = new AbortController();
    const sdk = new Client({
      endpoint: server.url,
      organizationId: org,
      secretKey: server.creds.secretKey,
      maxRetries: 0,
    });
    const inFlightPuts = new Map();
    const inFlightDeletes = new Map();
    /** Bulk deletes of this round: {key, round, block, prefix, state, sessionId?, expected}. */
    const bulks = [];
    let acksThisRound = 0;
    let uploadDone = false;
    const answered = new Map();
    const blocksThisRound = Math.ceil(o.filesPerRound / o.blockSize);
    const sizeOfBlock = (b) => Math.min(o.blockSize, o.filesPerRound - b * o.blockSize);
    const answer = (block) => {
      const n = (answered.get(block) ?? 0) + 1;
      answered.set(block, n);
      if (n === sizeOfBlock(block)) settledBlocks.add(blockKey(round, block));
    };

    const killAt = rng.int(0, o.filesPerRound);
    const onBulkPost = rng.next() < o.killOnBulkPostShare;
    const killDelay = onBulkPost ? rng.int(0, 40) : rng.int(o.killDelayMs[0], o.killDelayMs[1]);
    /** Set when a bulk delete POST goes out after the kill point: the kill then follows it. */
    let bulkPostSent = false;

    const uploader = async () => {
      for (let first = 0; first < o.filesPerRound && !killed; first += o.sessionSize) {
        const files = [];
        for (let i = first; i < Math.min(o.filesPerRound, first + o.sessionSize); i++) {
          const block = Math.floor(i / o.blockSize);
          const filename = `r${pad(round, 2)}/b${pad(block, 3)}/f${pad(i, 5)}.jpg`;
          const d = digestOf(seededJpeg(`${runId}/${filename}`));
          files.push({ filename, block, index: i, ...d });
        }
        stats.filesOffered += files.length;
        let opened;
        try {
          opened = await call("session.create", "POST", apiPaths.ingestionSessions(org, datasetId), {
            json: {
              spec: {
                kind: "Upload",
                failureMode: "FailAfterAll",
                onAssetOverwritten: "RemoveLinkedResource",
                assets: files.map((f) => ({
                  filename: f.filename,
                  mime: "image/jpeg",
                  size: f.size,
                  crc32c: f.crc32c,
                  sha256: f.sha256,
                  customMetadata: { round, block: f.block, index: f.index },
                  kind: "Image",
                })),
              },
            },
          });
        } catch (err) {
          if (!killed) violate(round, `session create failed with the server up: ${err.message}`);
          return;
        }
        if (opened.status !== 201) {
          violate(round, `session create answered ${opened.status}: ${opened.body.toString().slice(0, 300)}`);
          return;
        }
        const session = opened.json();
        const targets = new Map(session.status.assets.map((a) => [a.metadata.filename, a.upload]));
        if (targets.size !== files.length)
          violate(round, `session ${session.assetIngestionSessionId} wants ${targets.size} of ${files.length} files`);
        let sessionAcks = 0;
        await mapLimit(files, o.putConcurrency, async (f) => {
          const target = targets.get(f.filename);
          if (killed || !target) return;
          inFlightPuts.set(f.filename, f);
          stats.putsSent++;
          let res;
          try {
            res = await call("put", "PUT", target.url, {
              signed: true,
              headers: target.headers,
              body: seededJpeg(`${runId}/${f.filename}`),
            });
          } catch (err) {
            // No answer: with the server killed this file is in doubt (settled after the restart).
            if (!killed) {
              violate(round, `PUT ${f.filename} got no answer with the server up: ${err.message}`);
              inFlightPuts.delete(f.filename);
            }
            return;
          }
          inFlightPuts.delete(f.filename);
          if (res.status !== 200) {
            violate(round, `PUT ${f.filename} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
            answer(f.block);
            return;
          }
          const body = res.json();
          if (body.filename !== f.filename || typeof body.assetId !== "string")
            violate(round, `PUT ${f.filename} answered ${JSON.stringify(body)}`);
          remember(f.filename, { assetId: body.assetId, sha256: f.sha256, round, block: f.block });
          stats.acknowledged++;
          acksThisRound++;
          sessionAcks++;
          answer(f.block);
        });
        if (killed) return;
        // The session's own word: every acknowledged file counted as succeeded.
        try {
          const s = await call(
            "session.status",
            "GET",
            apiPaths.ingestionSession(org, datasetId, session.assetIngestionSessionId),
            { query: { waitFor: "Finished", timeout: 30 } },
          );
          if (s.status === 200) {
            const st = s.json().status;
            const finished = st.conditions.find((c) => c.condition === "Finished")?.status;
            if (finished !== "Reached" || st.progressCount.succeeded !== sessionAcks)
              violate(
                round,
                `session ${session.assetIngestionSessionId}: Finished ${finished}, ${st.progressCount.succeeded} succeeded, ${sessionAcks} acknowledged`,
              );
            else stats.sessionsChecked++;
          } else violate(round, `session status answered ${s.status}`);
        } catch (err) {
          if (!killed) violate(round, `session status got no answer with the server up: ${err.message}`);
        }
      }
      uploadDone = true;
    };

    const singleDeleter = async () => {
      for (let n = 0; n < 1_000_000 && !killed; n++) {
        await sleep(rng.int(o.singleDeletePauseMs[0], o.singleDeletePauseMs[1]), stop.signal);
        if (killed) return;
        let filename;
        for (let tries = 0; tries < 20 && filename === undefined; tries++) {
          const f = ackedNames.pick(rng);
          if (f === undefined) break;
          const e = acked.get(f);
          if (!inFlightDeletes.has(f) && !takenBlocks.has(blockKey(e.round, e.block))) filename = f;
        }
        if (filename === undefined) continue;
        const entry = acked.get(filename);
        inFlightDeletes.set(filename, entry);
        try {
          await sdk.assets.delete({ datasetId, assetId: entry.assetId });
          forget(filename);
          stats.singleDeletes++;
          inFlightDeletes.delete(filename);
        } catch (err) {
          if (killed) return; // in doubt: settled after the restart
          inFlightDeletes.delete(filename);
          violate(round, `delete of acknowledged ${filename} (${entry.assetId}) failed: ${err.name}: ${err.message}`);
        }
      }
    };

    const bulkWaiters = [];
    const bulkDeleter = async () => {
      for (let n = 0; n < 100_000 && !killed; n++) {
        await sleep(rng.int(o.bulkDeletePauseMs[0], o.bulkDeletePauseMs[1]), stop.signal);
        if (killed) return;
        if (bulks.filter((b) => b.state === "sending" || b.state === "open").length >= o.maxOpenBulks) continue;
        let key;
        for (let tries = 0; tries < 20 && key === undefined; tries++) {
          const k = settledBlocks.pick(rng);
          if (k === undefined) break;
          const files = blockFiles.get(k);
          if (takenBlocks.has(k) || !files || files.size === 0) continue;
          if ([...files].some((f) => inFlightDeletes.has(f))) continue;
          key = k;
        }
        if (key === undefined) continue;
        const [r, b] = key.split("/").map(Number);
        const prefix = `r${pad(r, 2)}/b${pad(b, 3)}/`;
        const bulk = { key, round: r, block: b, prefix, state: "sending", expected: blockFiles.get(key).size };
        takenBlocks.add(key);
        bulks.push(bulk);
        if (acksThisRound >= killAt) bulkPostSent = true;
        const metadataQuery = `round == ${r} and block == ${b}`;
        try {
          let session;
          if (n % 2 === 0) {
            const res = await call("bulk.create", "POST", apiPaths.deleteManyAssetsSessions(org, datasetId), {
              json: { spec: { filter: { filename: { prefix } }, metadataQuery, ruleQuery: null, strictQuery: true } },
            });
            if (res.status !== 201) {
              violate(round, `bulk delete of ${prefix} answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
              bulk.state = "failed";
              continue;
            }
            session = res.json();
          } else {
            session = await sdk.datasets.bulkDeleteAssets({
              datasetId,
              filter: { filename: { prefix } },
              metadataQuery,
              strictQuery: true,
              waitUntilDone: false,
            });
          }
          bulk.sessionId = session.deleteManyAssetsSessionId;
          bulk.state = "open";
          stats.bulkSessions++;
          if (session.status.selected !== bulk.expected)
            violate(
              round,
              `bulk delete of ${prefix} selected ${session.status.selected}, the log has ${bulk.expected}`,
            );
          bulkWaiters.push(waitBulk(bulk));
        } catch (err) {
          if (killed) return; // in doubt: the killed server's database says whether it exists
          bulk.state = "failed";
          violate(round, `bulk delete of ${prefix} failed with the server up: ${err.message}`);
        }
      }
    };

    const finishBulk = (bulk, session, when) => {
      const st = session.status;
      const finished = st.conditions.find((c) => c.condition === "Finished")?.status;
      if (finished !== "Reached") return false;
      if (st.deleted !== st.selected)
        violate(
          round,
          `bulk delete ${bulk.sessionId} (${bulk.prefix}) deleted ${st.deleted} of ${st.selected} (${when})`,
        );
      for (const f of [...(blockFiles.get(bulk.key) ?? [])]) forget(f);
      stats.bulkAssetsDeleted += st.deleted;
      bulk.state = "finished";
      return true;
    };

    const waitBulk = async (bulk) => {
      for (let polls = 0; polls < 200 && !killed; polls++) {
        try {
          const res = await call(
            "bulk.status",
            "GET",
            apiPaths.deleteManyAssetsSession(org, datasetId, bulk.sessionId),
            { query: { waitFor: "Finished", timeout: 5 } },
          );
          if (killed) return;
          if (res.status !== 200) {
            violate(round, `bulk status of ${bulk.sessionId} answered ${res.status}`);
            return;
          }
          if (finishBulk(bulk, res.json(), "while running")) return;
        } catch (err) {
          if (!killed) violate(round, `bulk status got no answer with the server up: ${err.message}`);
          return;
        }
      }
    };

    // ---- the kill ----
    const tasks = [uploader(), singleDeleter(), bulkDeleter()];
    let hitTimeout = false;
    while ((acksThisRound < killAt || (onBulkPost && !bulkPostSent)) && !uploadDone) {
      if (Date.now() - roundStarted > o.roundTimeoutMs) {
        hitTimeout = true;
        break;
      }
      await sleep(5);
    }
    await sleep(killDelay);
    if (hitTimeout) violate(round, `the round ran past ${o.roundTimeoutMs} ms without reaching its kill point`);
    if (!uploadDone) stats.killedDuringUpload++;
    if (onBulkPost && bulkPostSent) stats.killedAfterBulkPost++;
    killed = true;
    stop.abort();
    await server.kill();
    stats.kills++;
    let timer;
    const settled = await Promise.race([
      Promise.allSettled([...tasks, ...bulkWaiters]).then(() => true),
      new Promise((r) => (timer = setTimeout(() => r(false), 60_000))),
    ]);
    clearTimeout(timer);
    if (!settled) violate(round, "client tasks did not end within 60 s of the kill");
    await sdk.close().catch(() => undefined);
    stats.inFlightPutsAtKill += inFlightPuts.size;

    // ---- at the kill: the database and the blob folder, read directly ----
    const atKill = await inspectStore(dataDir);
    for (const p of atKill.problems) violate(round, `at the kill: ${p}`);
    stats.storeProblems += atKill.problems.length;
    stats.rowsWithoutBytes += atKill.problems.filter((p) => p.includes("not on disk")).length;
    stats.orphansAtKill += atKill.orphanFiles.length;
    stats.stagingAtKill += atKill.staging.length;
    stats.bulkRunningAtKill += atKill.deletionSessions.filter((s) => s.state === "Running").length;
    // A bulk delete whose POST got no answer exists if the database holds its session.
    for (const bulk of bulks.filter((b) => b.state === "sending")) {
      const found = atKill.deletionSessions.find(
        (s) => s.dataset_id === datasetId && s.spec?.filter?.filename?.prefix === bulk.prefix,
      );
      if (found) {
        bulk.sessionId = found.session_id;
        bulk.state = "open";
        stats.ambiguousBulkPosts.existed++;
        stats.bulkSessions++;
      } else {
        bulk.state = "none";
        takenBlocks.delete(bulk.key);
        stats.ambiguousBulkPosts.didNot++;
      }
    }
    const openBulkBlocks = new Set(bulks.filter((b) => b.state === "open").map((b) => b.key));
    const rowsAtKill = new Map(atKill.assets.filter((a) => a.dataset_id === datasetId).map((a) => [a.filename, a]));
    for (const [filename, e] of acked) {
      const row = rowsAtKill.get(filename);
      const mayBeGone = openBulkBlocks.has(blockKey(e.round, e.block)) || inFlightDeletes.has(filename);
      if (!row && !mayBeGone) violate(round, `at the kill: acknowledged ${filename} has no row`);
      if (row && (row.asset_id !== e.assetId || row.sha256 !== e.sha256))
        violate(
          round,
          `at the kill: ${filename} is ${row.asset_id}/${row.sha256}, acknowledged ${e.assetId}/${e.sha256}`,
        );
    }
    for (const [filename, row] of rowsAtKill) {
      if (acked.has(filename)) continue;
      const pending = inFlightPuts.get(filename);
      if (!pending || pending.sha256 !== row.sha256)
        violate(round, `at the kill: a row for ${filename} that was neither acknowledged nor in flight`);
    }

    // ---- the restart ----
    server = await startServerProcess(dataDir, env);
    call = httpCaller(server.url, server.creds, recorder);
    const stagingAfter = await readdir(join(dataDir, "staging"));
    stats.stagingLeftAfterRestart += stagingAfter.length;
    if (stagingAfter.length > 0) violate(round, `staging holds ${stagingAfter.length} entries after the restart`);
    let recovery;
    for (let i = 0; i < 100 && !recovery; i++) {
      recovery = server.output
        .map((l) => /removed (\d+) partial uploads and (\d+) uncommitted blobs/.exec(l))
        .find(Boolean);
      if (!recovery) await sleep(50);
    }
    if (!recovery) violate(round, "the restart did not report a recovery from an unclean shutdown");
    else {
      const [stagingRemoved, swept] = [Number(recovery[1]), Number(recovery[2])];
      stats.stagingRemovedAtRestart += stagingRemoved;
      stats.orphansSweptAtRestart += swept;
      if (swept !== atKill.orphanFiles.length)
        violate(round, `the restart swept ${swept} unreferenced blobs, the kill left ${atKill.orphanFiles.length}`);
      if (stagingRemoved !== atKill.staging.length)
        violate(round, `the restart removed ${stagingRemoved} staged files, the kill left ${atKill.staging.length}`);
    }

    // Bulk deletes the kill interrupted finish now.
    for (const bulk of bulks.filter((b) => b.state === "open")) {
      let done = false;
      for (let polls = 0; polls < 12 && !done; polls++) {
        const res = await call("bulk.status", "GET", apiPaths.deleteManyAssetsSession(org, datasetId, bulk.sessionId), {
          query: { waitFor: "Finished", timeout: 10 },
        });
        if (res.status !== 200) {
          violate(round, `after the restart, bulk status of ${bulk.sessionId} answered ${res.status}`);
          break;
        }
        done = finishBulk(bulk, res.json(), "after the restart");
      }
      if (!done) violate(round, `bulk delete ${bulk.sessionId} (${bulk.prefix}) did not finish after the restart`);
    }
    // Single deletes in flight at the kill: the asset is there or not, nothing in between.
    for (const [filename, e] of inFlightDeletes) {
      const res = await call("asset.get", "GET", apiPaths.asset(org, datasetId, e.assetId));
      if (res.status === 404) {
        forget(filename);
        stats.ambiguousSingleDeletes.happened++;
      } else if (res.status === 200) stats.ambiguousSingleDeletes.didNot++;
      else violate(round, `after the restart, GET of ${e.assetId} answered ${res.status}`);
    }

    // ---- the listing against the log ----
    const listing = new Map();
    let token;
    let totalCount;
    const maxPages = Math.ceil((acked.size + inFlightPuts.size) / 1000) + 5;
    for (let page = 0; page < maxPages; page++) {
      const res = await call(page === 0 ? "list.first" : "list.next", "GET", apiPaths.assets(org, datasetId), {
        query: { s: 1000, contents: "y", ...(token ? { p: token } : {}) },
      });
      if (res.status !== 200) {
        violate(round, `listing answered ${res.status}: ${res.body.toString().slice(0, 300)}`);
        break;
      }
      const body = res.json();
      totalCount ??= body.totalCount;
      for (const a of body.items) {
        if (listing.has(a.filename)) violate(round, `the listing holds ${a.filename} twice`);
        listing.set(a.filename, { assetId: a.assetId, sha256: a.metadata.hash.contents, url: a.contents.asset.url });
      }
      token = body.nextPage;
      if (!token) break;
    }
    if (token) violate(round, `the listing did not end within ${maxPages} pages`);
    if (totalCount !== listing.size) violate(round, `totalCount ${totalCount}, the listing holds ${listing.size}`);
    for (const [filename, item] of listing) {
      if (acked.has(filename)) continue;
      const pending = inFlightPuts.get(filename);
      if (pending && pending.sha256 === item.sha256) {
        // Committed, but its answer died with the server: the log takes the server's word.
        remember(filename, { assetId: item.assetId, sha256: item.sha256, round, block: pending.block });
        stats.committedUnacknowledged++;
      } else {
        stats.phantoms++;
        violate(round, `the listing holds ${filename}, which the client never had acknowledged`);
      }
    }
    for (const [filename, e] of acked) {
      const item = listing.get(filename);
      if (!item) {
        stats.lost++;
        violate(round, `acknowledged ${filename} (${e.assetId}) is not in the listing`);
      } else if (item.assetId !== e.assetId || item.sha256 !== e.sha256) {
        stats.lost++;
        violate(round, `${filename} lists as ${item.assetId}/${item.sha256}, acknowledged ${e.assetId}/${e.sha256}`);
      }
    }
    // The restart changed nothing but what unfinished bulk deletes took.
    for (const [filename, item] of listing) {
      if (!rowsAtKill.has(filename) || rowsAtKill.get(filename).asset_id !== item.assetId)
        violate(round, `${filename} is listed after the restart but was no row at the kill`);
    }
    const resumedBlocks = new Set(bulks.filter((b) => b.state === "finished").map((b) => b.key));
    for (const [filename, row] of rowsAtKill) {
      if (listing.has(filename)) continue;
      const block = Number(/\/b(\d+)\//.exec(filename)?.[1]);
      const r = Number(/^r(\d+)\//.exec(filename)?.[1]);
      const deletedInDoubt = [...inFlightDeletes.values()].some((d) => d.assetId === row.asset_id);
      if (!resumedBlocks.has(blockKey(r, block)) && !deletedInDoubt)
        violate(round, `${filename} (${row.asset_id}) was a row at the kill and vanished at the restart`);
    }
    if (listing.size === acked.size && violations.length === violationsBefore) stats.listingEqualsLog++;
    for (const bulk of bulks) if (bulk.state === "finished") takenBlocks.delete(bulk.key);
    for (let b = 0; b < blocksThisRound; b++) settledBlocks.add(blockKey(round, b));

    // ---- read back: the round's files and a sample of older ones ----
    const mine = [...acked].filter(([, e]) => e.round === round).map(([f]) => f);
    const older = [...acked].filter(([, e]) => e.round !== round).map(([f]) => f);
    const sample = [];
    for (let i = 0; i < Math.min(o.oldSample, older.length); i++) sample.push(older[rng.int(0, older.length - 1)]);
    await mapLimit([...mine, ...sample], o.readbackConcurrency, async (filename) => {
      const item = listing.get(filename);
      if (!item) return;
      stats.readbacks++;
      const res = await call("download", "GET", item.url, { signed: true });
      if (res.status !== 200 || sha256Hex(res.body) !== acked.get(filename).sha256) {
        stats.readbackMismatches++;
        violate(round, `${filename} read back ${res.status} with another SHA-256`);
      }
    });

    // ---- a clean stop: the sweep left no orphan ----
    await server.stop();
    const clean = await inspectStore(dataDir);
    for (const p of clean.problems) violate(round, `after recovery: ${p}`);
    stats.storeProblems += clean.problems.length;
    stats.orphansAfterRecovery += clean.orphanFiles.length;
    if (clean.orphanFiles.length > 0)
      violate(round, `after recovery: ${clean.orphanFiles.length} blobs on disk that no row references`);
    if (clean.staging.length > 0) violate(round, `after recovery: staging holds ${clean.staging.length} entries`);
    const running = clean.deletionSessions.filter((s) => s.state === "Running");
    if (running.length > 0) violate(round, `after recovery: ${running.length} bulk deletes still Running`);
    const rows = clean.assets.filter((a) => a.dataset_id === datasetId);
    if (rows.length !== acked.size || rows.some((a) => acked.get(a.filename)?.assetId !== a.asset_id))
      violate(round, `after recovery: ${rows.length} rows, the log holds ${acked.size}`);

    o.log(
      `round ${round}: killed at ${acksThisRound}/${o.filesPerRound} acks${uploadDone ? " (upload done)" : ""}, ` +
        `${atKill.deletionSessions.filter((s) => s.state === "Running").length} bulk running, ` +
        `${inFlightPuts.size} PUTs in flight, ${atKill.orphanFiles.length} orphan blobs at kill; ` +
        `log ${acked.size} = listing ${listing.size}; ${mine.length + sample.length} read back; ` +
        `${((Date.now() - roundStarted) / 1000).toFixed(1)} s`,
    );
    if (round === o.rounds) {
      server = undefined;
      return;
    }
    server = await startServerProcess(dataDir, env);
    call = httpCaller(server.url, server.creds, recorder);
  }
}
