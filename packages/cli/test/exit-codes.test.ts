import { CommanderError, InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import {
  AssetUploadResult,
  ViAuthenticationError,
  ViBulkDeleteError,
  ViConfigurationError,
  ViConflictError,
  ViError,
  ViFileTooLargeError,
  ViNetworkError,
  ViNotFoundError,
  ViPermissionError,
  ViRateLimitError,
  ViServerError,
  ViTimeoutError,
  ViUploadError,
  ViValidationError,
  type BulkAssetDeletionSession,
} from "@vi/sdk";
import { CliInterruptedError, CliUsageError, ExitCode, EXIT_CODES_HELP, exitCodeFor } from "../src/index.js";

const o = (code: string, status?: number) => ({ code, status });
const emptyResult = new AssetUploadResult({
  totalFiles: 0,
  totalSucceeded: 0,
  failedFiles: [],
  sessions: [],
  durationMs: 0,
  bytesSent: 0,
});

describe("exitCodeFor", () => {
  it.each<[string, unknown, number]>([
    ["--help", new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"), 0],
    ["--version", new CommanderError(0, "commander.version", "0.1.0"), 0],
    ["unknown option", new CommanderError(1, "commander.unknownOption", "error: unknown option '--x'"), 2],
    ["invalid argument", new InvalidArgumentError("expected an integer."), 2],
    ["missing command (help on stderr)", new CommanderError(1, "commander.help", "(outputHelp)"), 2],
    ["CliUsageError", new CliUsageError("refusing"), 2],
    ["ViUploadError", new ViUploadError("stopped", { code: "UploadFailed", result: emptyResult }), 1],
    [
      "ViBulkDeleteError",
      new ViBulkDeleteError("failed part way", { code: "BulkDeleteFailed", session: {} as BulkAssetDeletionSession }),
      1,
    ],
    ["ViAuthenticationError", new ViAuthenticationError("x", o("InvalidApiKey", 401)), 3],
    ["ViPermissionError", new ViPermissionError("x", o("PermissionDenied", 403)), 3],
    ["ViConfigurationError", new ViConfigurationError("x", o("ConfigurationError")), 3],
    ["ViNotFoundError", new ViNotFoundError("x", o("ResourceNotFound", 404)), 4],
    ["ViValidationError", new ViValidationError("x", o("InvalidParameter", 400)), 5],
    ["a local bad value (metadata over a limit)", new ViValidationError("x", o("InvalidParameter")), 5],
    ["a path to upload that does not exist", new ViValidationError("x", o("PathNotFound")), 2],
    ["a file to upload that is not an image", new ViValidationError("x", o("UnsupportedFileType")), 2],
    ["a folder with no image", new ViValidationError("x", o("NoImagesFound")), 2],
    ["two files under one filename", new ViValidationError("x", o("DuplicateFilename")), 2],
    ["a server's 400 that happens to use such a code", new ViValidationError("x", o("PathNotFound", 400)), 5],
    ["ViConflictError", new ViConflictError("x", o("ResourceConflict", 409)), 5],
    ["ViFileTooLargeError", new ViFileTooLargeError("x", o("FileTooLarge", 413)), 5],
    ["ViRateLimitError", new ViRateLimitError("x", o("RateLimitExceeded", 429)), 5],
    ["ViServerError 500", new ViServerError("x", o("ServerError", 500)), 5],
    ["ViServerError 502", new ViServerError("x", o("HTTP502", 502)), 6],
    ["ViServerError 503", new ViServerError("x", o("ServiceUnavailable", 503)), 6],
    ["ViNetworkError", new ViNetworkError("x", o("NetworkError")), 6],
    ["ViTimeoutError", new ViTimeoutError("x", o("Timeout")), 6],
    ["a bare ViError 404", new ViError("x", o("Whatever", 404)), 4],
    ["CliInterruptedError", new CliInterruptedError(), 130],
    ["an AbortError", new DOMException("aborted", "AbortError"), 130],
    ["anything else", new TypeError("oops"), 5],
    ["a non-error", "oops", 5],
  ])("%s -> %i", (_name, err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });

  it("the --help epilogue names every exit code", () => {
    for (const code of Object.values(ExitCode)) expect(EXIT_CODES_HELP).toMatch(new RegExp(`^  ${code} +\\S`, "m"));
  });
});
