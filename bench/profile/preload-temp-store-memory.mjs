// An experiment, not a fix: preloaded into the server process (`node --import` this file), it
// sets `PRAGMA temp_store = MEMORY` on every SQLite connection when it enters WAL mode, so that
// SQLite keeps its statement journals in memory instead of spilling them to a file in /var/tmp
// (strace shows that file taking about 40 pwrite64 calls per uploaded file). Used through
// bench/profile/upload-run.mjs: SERVER_NODE_ARGS="--import=$PWD/bench/profile/preload-temp-store-memory.mjs".
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(import.meta.dirname, "..", "..", "packages", "server", "package.json"));
const Database = require("better-sqlite3");
const pragma = Database.prototype.pragma;
Database.prototype.pragma = function (source, options) {
  const result = pragma.call(this, source, options);
  if (/^journal_mode\s*=\s*WAL$/i.test(source)) pragma.call(this, "temp_store = MEMORY");
  return result;
};
