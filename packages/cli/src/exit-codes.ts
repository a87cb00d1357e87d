import { CommanderError } from "commander";
import {
  LOCAL_PATH_ERROR_CODES,
  ViAuthenticationError,
  ViBulkDeleteError,
  ViConfigurationError,
  ViError,
  ViNetworkError,
  ViNotFoundError,
  ViPermissionError,
  ViTimeoutError,
  ViUploadError,
  ViValidationError,
} from "@vi/sdk";

/**
 * vi-cli's exit codes. Scripts may rely on them: they are part of the CLI's contract.
 *
 * | code | meaning |
 * |---|---|
 * | 0   | success |
 * | 1   | partial failure: some files failed to upload, download or delete (`ViUploadError`, `ViBulkDeleteError` too) |
 * | 2   | usage error: unknown command or flag, missing or malformed argument (a path to upload that does not exist), refused without `--yes` |
 * | 3   | authentication or configuration error: missing/invalid secret key, organization or endpoint (401, 403) |
 * | 4   | not found (404): no such dataset, asset or session in this organization |
 * | 5   | any other API or validation error (400, 409, 413, 429, 500, ...) |
 * | 6   | network error, timeout, or server unreachable/unavailable (502, 503, 504) |
 * | 130 | interrupted (Ctrl-C / SIGINT / SIGTERM) or a declined confirmation |
 */
export const ExitCode = {
  Ok: 0,
  PartialFailure: 1,
  Usage: 2,
  Auth: 3,
  NotFound: 4,
  Api: 5,
  Network: 6,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The `--help` epilogue that documents the exit codes (kept next to the table above). */
export const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    partial failure (some files failed to upload, download or delete)
  2    usage error (unknown command or flag, bad argument, refused without --yes)
  3    authentication or configuration error (secret key, organization, endpoint)
  4    not found (dataset, asset or session)
  5    other API or validation error
  6    network error, timeout, or server unreachable
  130  interrupted (Ctrl-C) or confirmation declined`;

/** A usage error found by vi-cli itself (as opposed to one commander found): exit 2. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
  constructor(
    message: string,
    readonly suggestion?: string,
  ) {
    super(message);
  }
}

/** The run was interrupted (signal) or the user declined a confirmation: exit 130. */
export class CliInterruptedError extends Error {
  override readonly name = "CliInterruptedError";
  constructor(
    message = "interrupted",
    /** What to do next (e.g. how to resume), printed as the hint. */
    readonly suggestion?: string,
  ) {
    super(message);
  }
}

/** commander's own "errors" that are not errors: --help and --version. */
const COMMANDER_SUCCESS = new Set(["commander.helpDisplayed", "commander.version", "commander.executeSubCommandAsync"]);

export function isCommanderSuccess(err: unknown): boolean {
  return err instanceof CommanderError && COMMANDER_SUCCESS.has(err.code);
}

function isAbortError(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    "name" in err &&
    ((err as { name: unknown }).name === "AbortError" || (err as { name: unknown }).name === "ViAbortError")
  );
}

const LOCAL_PATH_CODES: ReadonlySet<string> = new Set(LOCAL_PATH_ERROR_CODES);

/** A path of the command line the SDK refused locally (missing, not an image, no image in the folder, ...). */
export function isLocalPathError(err: unknown): err is ViValidationError {
  return err instanceof ViValidationError && err.status === undefined && LOCAL_PATH_CODES.has(err.code);
}

/** Maps anything a command can throw to the process exit code. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) return isCommanderSuccess(err) ? ExitCode.Ok : ExitCode.Usage;
  if (err instanceof CliUsageError) return ExitCode.Usage;
  if (err instanceof CliInterruptedError || isAbortError(err)) return ExitCode.Interrupted;
  // The SDK refused the paths given to upload before any request: the command line is wrong.
  if (isLocalPathError(err)) return ExitCode.Usage;
  if (err instanceof ViUploadError || err instanceof ViBulkDeleteError) return ExitCode.PartialFailure;
  if (err instanceof ViAuthenticationError || err instanceof ViPermissionError || err instanceof ViConfigurationError)
    return ExitCode.Auth;
  if (err instanceof ViNotFoundError) return ExitCode.NotFound;
  if (err instanceof ViNetworkError || err instanceof ViTimeoutError) return ExitCode.Network;
  if (err instanceof ViError) {
    const status = err.status;
    if (status === 401 || status === 403) return ExitCode.Auth;
    if (status === 404) return ExitCode.NotFound;
    if (status === 502 || status === 503 || status === 504) return ExitCode.Network;
    return ExitCode.Api;
  }
  return ExitCode.Api;
}
