import { CommanderError } from "commander";
import { ViConfigurationError, ViError, ViUploadError } from "@vi/sdk";
import { ENV } from "./client-options.js";
import { CliInterruptedError, CliUsageError, exitCodeFor, ExitCode } from "./exit-codes.js";
import type { JsonError, Output } from "./output.js";

const COMMANDER_PREFIX = /^error:\s*/i;

/** vi-cli's hint for each kind of configuration problem, in its flags' terms (see the SDK's ConfigProblem). */
const CONFIG_HINTS: Record<string, string> = {
  missing:
    "run vi-cli from the folder where the server keeps vi-data/ (where you ran `npm start` or `vi-cli serve`) " +
    `or from a folder below it; or pass --config <file>, or set ${ENV.secretKey} and ${ENV.organizationId}. ` +
    "No server yet? `npm start` (or `vi-cli serve`) starts one, with its vi-data/ in the folder it starts in",
  malformed:
    "copy the key whole again: it is dtvi_ and 98 more characters, in vi-data/credentials.json or as " +
    "`vi-cli keys create` printed it",
  unreadable: "check that file: the server writes it as JSON {organizationId, secretKey, endpoint}",
  foreign: "pass it with --config <file> if you trust it, or start a server of your own with `vi-cli serve`",
  invalid: `check the value named (--endpoint / ${ENV.endpoint} is an http(s) URL such as http://127.0.0.1:8080)`,
};

/** vi-cli's own hint for an SDK error that brought none. */
function defaultSuggestion(err: ViError): string | undefined {
  switch (exitCodeFor(err)) {
    case ExitCode.Auth:
      return err instanceof ViConfigurationError
        ? CONFIG_HINTS.missing
        : `check the secret key and organization id (${ENV.secretKey}, ${ENV.organizationId}, --config)`;
    case ExitCode.Network:
      return `is the server running and reachable? check --endpoint / ${ENV.endpoint}`;
    default:
      return undefined;
  }
}

/** vi-cli's own hint where the SDK's speaks of its options, not of vi-cli's flags. */
function cliSuggestion(err: ViError): string | undefined {
  if (err instanceof ViConfigurationError) {
    const problem = err.details?.problem;
    return typeof problem === "string" ? CONFIG_HINTS[problem] : undefined;
  }
  if (err instanceof ViUploadError && err.result?.stopped) {
    const n = err.result.totalPending;
    const untried = n > 0 ? ` (${n} ${n === 1 ? "file was" : "files were"} not uploaded)` : "";
    return (
      `vi-cli stops at the first failed file by default${untried}: fix or remove that file, or run the same ` +
      `command with --fail-after-all to upload every file that can be and list each failure ` +
      `(files already uploaded are not sent again)`
    );
  }
  return undefined;
}

/** An error as the `{"error": {...}}` document carries it. */
export function errorToJson(err: unknown): JsonError {
  if (err instanceof ViError) {
    return {
      code: err.code,
      message: err.message,
      suggestion: cliSuggestion(err) ?? err.suggestion ?? defaultSuggestion(err) ?? null,
      requestId: err.requestId ?? null,
      status: err.status ?? null,
    };
  }
  if (err instanceof CommanderError) {
    return {
      code: "UsageError",
      message: commanderMessage(err),
      suggestion: "run with --help to see the commands and flags",
      requestId: null,
      status: null,
    };
  }
  if (err instanceof CliUsageError)
    return {
      code: "UsageError",
      message: err.message,
      suggestion: err.suggestion ?? null,
      requestId: null,
      status: null,
    };
  if (exitCodeFor(err) === ExitCode.Interrupted)
    return {
      code: "Interrupted",
      message: err instanceof CliInterruptedError ? err.message : "interrupted",
      suggestion: (err instanceof CliInterruptedError ? err.suggestion : undefined) ?? null,
      requestId: null,
      status: null,
    };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "Error", message, suggestion: null, requestId: null, status: null };
}

function commanderMessage(err: CommanderError): string {
  if (err.code === "commander.help") return "missing command";
  return err.message.replace(COMMANDER_PREFIX, "").trim();
}

/** Prints an error: one line (plus hint and request id) on stderr, or with --json its document on stdout. */
export function printError(out: Output, err: unknown, extra?: Record<string, unknown>): void {
  const e = errorToJson(err);
  if (out.json) {
    out.document({ error: e, ...(extra ?? {}) });
    return;
  }
  // commander already printed the help for a missing (sub)command.
  if (err instanceof CommanderError && err.code === "commander.help") return;
  out.errorLine(`error: ${e.message}`);
  if (e.suggestion && !(err instanceof CommanderError)) out.errorLine(`hint: ${e.suggestion}`);
  else if (err instanceof CommanderError) out.errorLine(`hint: run with --help to see the commands and flags`);
  if (e.requestId) out.errorLine(`request id: ${e.requestId}`);
}
