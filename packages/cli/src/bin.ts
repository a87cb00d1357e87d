#!/usr/bin/env node
/**
 * The vi-cli entry point: parse, run, map errors to exit codes (see exit-codes.ts).
 * The first SIGINT/SIGTERM aborts the running command (every SDK call gets the signal; `serve`
 * closes the server and exits 0); a second one exits at once with 130.
 */
import { CliInterruptedError, ExitCode } from "./exit-codes.js";
import { run } from "./program.js";

const controller = new AbortController();
let interrupts = 0;
function onSignal(signal: NodeJS.Signals): void {
  interrupts++;
  if (interrupts > 1) process.exit(ExitCode.Interrupted);
  controller.abort(new CliInterruptedError(`interrupted (${signal})`));
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

// `vi-cli assets list --all | head`: a closed pipe is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

const code = await run(process.argv.slice(2), { signal: controller.signal });
await flush(process.stdout);
await flush(process.stderr);
// Exit explicitly: keep-alive connections of the SDK must not hold the process open.
process.exit(code);
