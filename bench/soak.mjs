#!/usr/bin/env node
// The long soak: the crash loop (20 rounds of SIGKILL at random points of a 10,000-file upload
// with concurrent single and bulk deletes) and then the load run (32 uploaders and 8 listers for
// 60 s), each against the built server in a child process on loopback, with a final summary.
// The short variants of both are in the test suite (test/e2e/soak-*.test.ts).
//
//   npm run soak                       # builds, then everything with the full parameters
//   node bench/soak.mjs [--only crash|load] [--rounds 20] [--files 10000] [--seconds 60]
//                       [--uploaders 32] [--listers 8] [--seed N] [--keep] [--json out.json]
//
// The load run raises the server's per-key rate limit (VI_RATE_LIMIT) to 10,000,000 per
// minute: at the default 6,000 the run would measure 429s. Exits 1 when anything was violated.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { runCrashLoop } from "../test/helpers/soak-crash.mjs";
import { runLoad } from "../test/helpers/soak-load.mjs";
import { fmt, latencyTable } from "../test/helpers/soak-kit.mjs";

const { values: args } = parseArgs({
  options: {
    only: { type: "string" },
    rounds: { type: "string", default: "20" },
    files: { type: "string", default: "10000" },
    seconds: { type: "string", default: "60" },
    uploaders: { type: "string", default: "32" },
    listers: { type: "string", default: "8" },
    seed: { type: "string" },
    keep: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const seed = args.seed === undefined ? undefined : Number(args.seed);
const log = (line) => console.log(line);
const started = Date.now();
const host = {
  cpus: (await import("node:os")).cpus().length,
  loadAverage: (await import("node:os")).loadavg().map((n) => n.toFixed(2)),
  node: process.version,
};
console.log(
  `soak: ${new Date().toISOString()}, Node ${host.node}, ${host.cpus} cores, load average ${host.loadAverage.join(" ")}`,
);

let crash;
if (args.only === undefined || args.only === "crash") {
  crash = await runCrashLoop({
    rounds: Number(args.rounds),
    filesPerRound: Number(args.files),
    keep: args.keep,
    ...(seed !== undefined ? { seed } : {}),
    log,
  });
}
let load;
if (args.only === undefined || args.only === "load") {
  load = await runLoad({
    durationMs: Number(args.seconds) * 1000,
    uploaders: Number(args.uploaders),
    listers: Number(args.listers),
    keep: args.keep,
    ...(seed !== undefined ? { seed } : {}),
    log,
  });
}

// ---- the summary ----
const lines = ["", "==== soak summary ===="];
if (crash) {
  const c = crash;
  lines.push(
    `crash loop (seed ${c.seed}): ${c.rounds} rounds, ${c.kills} SIGKILLs (${c.killedDuringUpload} during the upload, ${c.killedAfterBulkPost} just after a bulk delete POST), ${fmt(c.durationMs / 1000, 0)} s`,
    `  files offered ${c.filesOffered}, PUTs sent ${c.putsSent}, acknowledged ${c.acknowledged}, sessions cross-checked ${c.sessionsChecked}`,
    `  in flight at the kills: ${c.inFlightPutsAtKill} PUTs (${c.committedUnacknowledged} had committed), ` +
      `single deletes ${c.ambiguousSingleDeletes.happened + c.ambiguousSingleDeletes.didNot} (${c.ambiguousSingleDeletes.happened} happened), ` +
      `bulk POSTs ${c.ambiguousBulkPosts.existed + c.ambiguousBulkPosts.didNot} (${c.ambiguousBulkPosts.existed} existed), ` +
      `bulk deletes running ${c.bulkRunningAtKill}`,
    `  deletes: ${c.singleDeletes} single, ${c.bulkSessions} bulk sessions removing ${c.bulkAssetsDeleted} assets`,
    `  at the kills: ${c.orphansAtKill} unreferenced blobs and ${c.stagingAtKill} staged files; ` +
      `the restarts swept ${c.orphansSweptAtRestart} and ${c.stagingRemovedAtRestart}`,
    `  orphans found after recovery ${c.orphansAfterRecovery}, rows without bytes ${c.rowsWithoutBytes}, other store problems ${c.storeProblems - c.rowsWithoutBytes}, ` +
      `staging left after restart ${c.stagingLeftAfterRestart}`,
    `  lost acknowledged ${c.lost}, phantoms ${c.phantoms}, read back ${c.readbacks} (mismatched ${c.readbackMismatches}), ` +
      `listing = log after ${c.listingEqualsLog}/${c.rounds} restarts, ${c.finalAssets} assets at the end`,
    `  latencies:`,
    latencyTable(c.latencies),
    `  violations: ${c.violations.length}`,
    ...c.violations.slice(0, 30).map((v) => `    ${v}`),
  );
}
if (load) {
  const l = load;
  lines.push(
    `load (seed ${l.seed}): ${l.uploaders} uploaders + ${l.listers} listers for ${fmt(l.seconds)} s, VI_RATE_LIMIT=${l.rateLimitPerMinute}/min, ${l.seededAssets} assets seeded`,
    `  ${l.requests} requests (${fmt(l.requestsPerSecond)}/s), ${l.uploadedFiles} files in ${l.sessions} sessions, ${l.walks} page walks (${l.walkPages} pages), ` +
      `${l.checkedItems} listed items checked, ${l.downloads} downloads verified`,
    `  5xx: ${l.serverErrors}`,
    `  CPU: server ${fmt(l.cpu.serverSeconds)} s (${fmt(l.cpu.serverCores, 2)} cores), client ${fmt(l.cpu.clientSeconds)} s (${fmt(l.cpu.clientCores, 2)} cores); ` +
      `whole machine ${fmt(l.cpu.machineCores, 2)} of ${host.cpus} cores busy`,
    `  server RSS: start ${fmt(l.memory.startRssMb, 0)} MB, peak ${fmt(l.memory.peakRssMb, 0)} MB, end ${fmt(l.memory.endRssMb, 0)} MB ` +
      `(mean of first tenth ${fmt(l.memory.firstTenthMeanMb, 0)} MB, last tenth ${fmt(l.memory.lastTenthMeanMb, 0)} MB, ${l.memory.samples} samples)`,
    `  latencies:`,
    latencyTable(l.latencies),
    `  violations: ${l.violations.length}`,
    ...l.violations.slice(0, 30).map((v) => `    ${v}`),
  );
}
lines.push(`total ${fmt((Date.now() - started) / 1000, 0)} s`);
console.log(lines.join("\n"));
if (args.json) await writeFile(args.json, JSON.stringify({ host, crash, load }, null, 2) + "\n");
const violations = (crash?.violations.length ?? 0) + (load?.violations.length ?? 0);
process.exitCode = violations > 0 ? 1 : 0;
