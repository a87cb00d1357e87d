import { Command, InvalidArgumentError } from "commander";
import { ViUploadError } from "@vi/sdk";
import { ENV } from "./client-options.js";
import { registerAdmin } from "./commands/admin.js";
import { registerAnnotations } from "./commands/annotations.js";
import { registerAssets, printFailedFiles, uploadResultToJson } from "./commands/assets.js";
import { registerDatasets } from "./commands/datasets.js";
import { registerKeys } from "./commands/keys.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerServe } from "./commands/serve.js";
import { resolveDeps, type CliDeps, type RunState } from "./context.js";
import { errorToJson, printError } from "./errors.js";
import { helpConfiguration, helpText } from "./help.js";
import { CliInterruptedError, EXIT_CODES_HELP, exitCodeFor, isCommanderSuccess, type ExitCode } from "./exit-codes.js";
import { Output } from "./output.js";
import { VERSION } from "./version.js";

export const PROGRAM_NAME = "vi-cli";

const ENV_ROWS: [string, string][] = [
  [ENV.secretKey, "secret key (preferred over --secret-key)"],
  [ENV.organizationId, "organization id"],
  [ENV.endpoint, "server URL (default http://127.0.0.1:8080)"],
  [ENV.configFile, "credentials file, when --config is not given"],
  [ENV.dataDir, "data directory of a local server: its credentials.json is used when nothing"],
  ["", "else names a key (default: the nearest vi-data/ here or in a folder above);"],
  ["", "`serve` stores its data there (default ./vi-data)"],
  ["HOST, PORT", "where `serve` listens (default 127.0.0.1, 8080)"],
];
const ENV_WIDTH = Math.max(...ENV_ROWS.map(([name]) => name.length));
const ENVIRONMENT_HELP = [
  "Environment:",
  ...ENV_ROWS.map(([name, text]) => `  ${name.padEnd(ENV_WIDTH)}  ${text}`),
  "",
  "Precedence: flags, then environment variables, then the credentials file.",
].join("\n");

function endpointArg(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("expected an http(s) URL.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("expected an http(s) URL.");
  return value;
}

/**
 * Builds the vi-cli program. Everything it touches outside itself comes through `deps` (the SDK
 * client factory, stdout/stderr, env, the abort signal, the confirmation prompt, the server
 * loader), so tests run it in-process. `state.exitCode` holds the exit code of a run that
 * completes (0, or 1 for a partial failure); thrown errors map through `exitCodeFor`.
 */
export function buildProgram(deps: CliDeps = {}, state: RunState = { exitCode: 0, cleanups: [] }): Command {
  const d = resolveDeps(deps);
  const program = new Command(PROGRAM_NAME);
  program
    .description("Vi: a self-hosted asset store for computer-vision datasets")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .helpCommand("help [command]", "show help for a command")
    .option("--endpoint <url>", `server URL (env ${ENV.endpoint})`, endpointArg)
    .option(
      "--secret-key <key>",
      `secret key (prefer env ${ENV.secretKey}: flags leak into shell history and process listings)`,
    )
    .option("--organization-id <id>", `organization id (env ${ENV.organizationId})`)
    .option(
      "--config <file>",
      "JSON credentials file {organizationId, secretKey, endpoint}, e.g. vi-data/credentials.json",
    )
    .option("--json", "machine output: exactly one JSON document on stdout (errors too)")
    .option("-q, --quiet", "no notes, warnings or progress bars (results and errors still print)")
    // Set before the subcommands are added: commander copies these settings into each of them.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => d.stdout.write(s),
      writeErr: (s) => d.stderr.write(s),
      // run() prints commander's errors itself, in the run's mode (human or --json).
      outputError: () => {},
      // Help fits the terminal it is written to (commander would ask process.stdout).
      getOutHelpWidth: () => (d.stdout.isTTY && d.stdout.columns ? d.stdout.columns : 80),
      getErrHelpWidth: () => (d.stderr.isTTY && d.stderr.columns ? d.stderr.columns : 80),
    })
    .showSuggestionAfterError(true)
    .configureHelp(helpConfiguration)
    .addHelpText("after", helpText(`\n${ENVIRONMENT_HELP}\n\n${EXIT_CODES_HELP}\n`));

  registerServe(program, d, state);
  registerKeys(program, d, state);
  registerDatasets(program, d, state);
  registerAssets(program, d, state);
  registerAnnotations(program, d, state);
  registerAdmin(program, d, state);
  registerMigrate(program, d, state);
  return program;
}

/** `--json` / `--quiet` as given on the command line, for errors found before any action ran. */
function modeFromArgv(argv: string[]): { json: boolean; quiet: boolean } {
  const end = argv.indexOf("--");
  const flags = end === -1 ? argv : argv.slice(0, end);
  return { json: flags.includes("--json"), quiet: flags.includes("--quiet") || flags.includes("-q") };
}

/**
 * Runs vi-cli with `argv` (the user's arguments, without `node` and the script) and resolves to
 * the exit code. Never throws, never exits the process: `bin.ts` does that.
 */
export async function run(argv: string[], deps: CliDeps = {}): Promise<ExitCode> {
  const state: RunState = { exitCode: 0, cleanups: [] };
  const d = resolveDeps(deps);
  const program = buildProgram(d, state);
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.exitCode;
  } catch (caught) {
    if (isCommanderSuccess(caught)) return 0;
    const err = d.signal.aborted && exitCodeFor(caught) !== 2 ? new CliInterruptedError() : caught;
    const out = new Output(d.stdout, d.stderr, state.mode ?? modeFromArgv(argv));
    if (out.json && state.closeJsonWithError) {
      state.closeJsonWithError(errorToJson(err));
    } else if (err instanceof ViUploadError && err.result) {
      if (!out.json) {
        const summary = err.result.summary();
        out.line(summary);
        printFailedFiles(out, err.result, summary);
      }
      printError(out, err, { result: uploadResultToJson(err.result) });
    } else printError(out, err);
    return exitCodeFor(err);
  } finally {
    for (const cleanup of state.cleanups) await cleanup().catch(() => {});
  }
}
