/** vi-cli as a library: for in-process tests and for end-to-end tests of the real binary. */
import { fileURLToPath } from "node:url";
export { run, buildProgram, PROGRAM_NAME } from "./program.js";
export { ExitCode, EXIT_CODES_HELP, exitCodeFor, CliUsageError, CliInterruptedError } from "./exit-codes.js";
export { errorToJson } from "./errors.js";
export {
  toClientOptions,
  ENV,
  CREDENTIALS_FILE,
  DEFAULT_DATA_DIR,
  SECRET_KEY_FLAG_WARNING,
  type ClientOptions,
  type GlobalOptions,
} from "./client-options.js";
export { DEFAULT_HOST, DEFAULT_PORT, resolveServeOptions } from "./commands/serve.js";
export { uploadResultToJson, sessionToJson, bulkDeleteToJson, compactMetadata } from "./commands/assets.js";
export type { CliClient, CliDeps, ClientFactory, ServerModule, RunningServer, StartServerOptions } from "./context.js";
export type { Writable, JsonError } from "./output.js";
export { VERSION } from "./version.js";

/**
 * The built binary (`packages/cli/dist/bin.js`), for end-to-end tests that spawn it:
 * `spawn(process.execPath, [VI_CLI_BIN, ...args])`. The same path from src/ and from dist/.
 */
export const VI_CLI_BIN: string = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
