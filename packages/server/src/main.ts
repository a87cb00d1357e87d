#!/usr/bin/env node
import { startServer } from "./server.js";

/** `node packages/server/dist/main.js`: the server alone, configured by environment. */
const server = await startServer();
console.log(`Vi server listening on ${server.url}`);
console.log(
  server.credentialsPath
    ? `Credentials: ${server.credentialsPath}`
    : "Credentials: none here: this start joined an existing organization; its key is in the credentials.json written where it was created",
);
const { recovery } = server;
if (recovery.uncleanShutdown || recovery.stagingRemoved > 0) {
  console.log(
    `Recovered from an unclean shutdown: removed ${recovery.stagingRemoved} partial uploads and ${recovery.orphanedBlobsRemoved} uncommitted blobs`,
  );
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
