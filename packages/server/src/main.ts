#!/usr/bin/env node
import { startServer } from "./server.js";

/** `node packages/server/dist/main.js`: the server alone, configured by environment. */
const server = await startServer({ logger: { level: process.env.VI_LOG_LEVEL ?? "info" } });
console.log(`Vi server listening on ${server.url}`);
console.log(`Credentials: ${server.credentialsPath}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
