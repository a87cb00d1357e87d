#!/usr/bin/env node
// Counts the SQL statements the server runs per uploaded file, without changing its code: the
// server runs in this process (startServer from dist) with processing off, its metadata store
// wrapped through the `wrapStores` test seam to count store calls and group-commit batch
// sizes, and its SQLite connection's `prepare` wrapped to count every statement Kysely runs
// (Kysely prepares each statement it executes; the store caches the prepared ones by text).
//
//   node bench/profile/count-sql.mjs [files=2000] [concurrency=32]
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { Client } from "@vi/sdk";
import { startServer } from "../../packages/server/dist/index.js";
import { sqliteDatabaseOf } from "../../packages/server/dist/store/metadata/sqlite.js";
import { makeJpegs, TMP } from "../lib.mjs";

const files = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 32);
const src = await makeJpegs(join(TMP, `jpegs-${files}`), files, 100_000);

let counting = false;
const statements = new Map();
const storeCalls = new Map();
const batches = [];
const bump = (map, key, n = 1) => counting && map.set(key, (map.get(key) ?? 0) + n);

const wrapStores = ({ metadata, blobs }) => {
  const database = sqliteDatabaseOf(metadata);
  if (!database) throw new Error("no SQLite connection under the store");
  const prepare = database.prepare.bind(database);
  database.prepare = (source) => {
    // One line per statement shape: verb and table, without the values.
    const text = source.replace(/\s+/g, " ");
    const verb = /^(select|insert into|update|delete from|begin|commit|rollback)/i.exec(text)?.[1]?.toLowerCase();
    const table =
      verb === "select" ? /\bfrom "?(\w+)"?/i.exec(text)?.[1] : /^\w+(?: into| from)? "?(\w+)"?/i.exec(text)?.[1];
    bump(statements, verb ? (/^(begin|commit|rollback)$/.test(verb) ? verb : `${verb} ${table}`) : text.slice(0, 40));
    return prepare(source);
  };
  const counted = new Proxy(metadata, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args) => {
        bump(storeCalls, prop);
        if (prop === "commitFiles" && counting) batches.push(args[0].length);
        return value.apply(target, args);
      };
    },
  });
  return { metadata: counted, blobs };
};

const dataDir = await mkdtemp(join(TMP, "count-sql-"));
const server = await startServer({ dataDir, port: 0, processingConcurrency: 0, logger: false, wrapStores });
const client = new Client({
  endpoint: server.url,
  organizationId: server.created.organizationId,
  secretKey: server.created.secretKey,
});
const { datasetId } = await client.datasets.create({ name: "count-sql" });
counting = true;
const result = await client.assets.upload({
  datasetId,
  paths: src,
  concurrency,
  showProgress: false,
  digestCache: false,
});
counting = false;
await client.close();
await server.close();
await rm(dataDir, { recursive: true, force: true });
if (result.totalSucceeded !== files) throw new Error(`upload incomplete: ${result.totalSucceeded} of ${files}`);

const per = (n) => (n / files).toFixed(3);
const total = [...statements.values()].reduce((a, b) => a + b, 0);
console.log(`${files} files uploaded, concurrency ${concurrency}: ${total} statements, ${per(total)} per file\n`);
console.log("| statement | count | per file |\n|---|--:|--:|");
for (const [k, n] of [...statements].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${n} | ${per(n)} |`);
console.log("\n| store call | count | per file |\n|---|--:|--:|");
for (const [k, n] of [...storeCalls].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${n} | ${per(n)} |`);
batches.sort((a, b) => a - b);
const mean = batches.reduce((a, b) => a + b, 0) / batches.length;
console.log(
  `\ngroup commits: ${batches.length} transactions for ${files} files, batch size mean ${mean.toFixed(1)}, median ${batches[batches.length >> 1]}, max ${batches[batches.length - 1]}`,
);
