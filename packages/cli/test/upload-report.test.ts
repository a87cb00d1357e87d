import { describe, expect, it } from "vitest";
import { AssetUploadResult, ViUploadError } from "@vi/sdk";
import { CliInterruptedError } from "../src/index.js";
import { cli, fakeClient, session } from "./harness.js";

/** Six files uploaded; two left out of the folder; a sidecar entry for a file no longer there. */
function resultWithSkips(): AssetUploadResult {
  return new AssetUploadResult({
    totalFiles: 6,
    totalSucceeded: 6,
    failedFiles: [],
    sessions: [session("sess1", { total: 6, succeeded: 6, errored: 0 })],
    durationMs: 1000,
    bytesSent: 6000,
    skippedFiles: [
      { path: "imgs/logo.svg", reason: "unsupported type .svg" },
      { path: "imgs/notes.txt", reason: "unsupported type .txt" },
    ],
    unmatchedMetadataEntries: [{ metadataFile: "imgs/vi-metadata.json", entry: "deleted.jpg" }],
  });
}

describe("assets upload: files left out and sidecar entries that matched nothing", () => {
  it("counts them in the summary and says --verbose names them; exit 0", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(resultWithSkips());
    const r = await cli(["assets", "upload", "ds1", "imgs"], client);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Files: +6 total, 6 succeeded, 0 failed/);
    expect(r.stdout).toMatch(
      /Skipped: +2 files: unsupported type \.svg \(1\), unsupported type \.txt \(1\) \(not uploaded\)/,
    );
    expect(r.stdout).toMatch(
      /Warning: +1 entry of imgs\/vi-metadata\.json named no file of this upload \(not applied\)/,
    );
    expect(r.stdout).not.toContain("logo.svg");
    expect(r.stdout).not.toContain("deleted.jpg");
    expect(r.stderr).toContain("(--verbose names the 2 skipped files and the 1 unmatched metadata entry)");
    // Sizes in the units of `assets list` and downloads: binary.
    expect(r.stdout).toMatch(/Sent: +5\.9 KiB\n/);
    expect(r.stdout + r.stderr).not.toMatch(/\d (kB|MB|GB)\b/);
  });

  it("--verbose names each one", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(resultWithSkips());
    const r = await cli(["assets", "upload", "ds1", "imgs", "--verbose"], client);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('    "deleted.jpg"');
    expect(r.stdout).toMatch(
      /Skipped files:\n {4}imgs\/logo\.svg {2}unsupported type \.svg\n {4}imgs\/notes\.txt {2}unsupported type \.txt/,
    );
    expect(r.stderr).not.toContain("--verbose");
  });

  it("--json carries them", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(resultWithSkips());
    const r = await cli(["assets", "upload", "ds1", "imgs", "--json"], client);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toMatchObject({
      totalFiles: 6,
      totalSkipped: 2,
      skippedFiles: [
        { path: "imgs/logo.svg", reason: "unsupported type .svg" },
        { path: "imgs/notes.txt", reason: "unsupported type .txt" },
      ],
      unmatchedMetadataEntries: [{ metadataFile: "imgs/vi-metadata.json", entry: "deleted.jpg" }],
    });
  });
});

describe("assets upload: stopped at the first failed file", () => {
  const stoppedError = () =>
    new ViUploadError("upload failed at imgs/b.png: ECORRUPT: truncated image data", {
      code: "UploadFailed",
      suggestion: 'pass failureMode: "FailAfterAll" (the SDK\'s wording)',
      result: new AssetUploadResult({
        totalFiles: 7,
        totalSucceeded: 1,
        failedFiles: [{ path: "imgs/b.png", filename: "b.png", code: "ECORRUPT", reason: "truncated image data" }],
        sessions: [session("sess1", { total: 7, succeeded: 1, errored: 1 })],
        durationMs: 800,
        bytesSent: 100,
        stopped: true,
      }),
    });

  it("says that the rest was not uploaded and suggests --fail-after-all", async () => {
    const client = fakeClient();
    client.assets.upload.mockRejectedValue(stoppedError());
    const r = await cli(["assets", "upload", "ds1", "imgs"], client);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Files: +7 total, 1 succeeded, 1 failed, 5 not uploaded \(stopped at the first failure\)/);
    expect(r.stderr).toMatch(/^error: upload failed at imgs\/b\.png: ECORRUPT: truncated image data$/m);
    expect(r.stderr).toMatch(
      /^hint: vi-cli stops at the first failed file by default \(5 files were not uploaded\): fix or remove that file, or run the same command with --fail-after-all to upload every file that can be and list each failure/m,
    );
    expect(r.stderr).not.toContain("failureMode");
  });

  it("--json: the same hint in the error document", async () => {
    const client = fakeClient();
    client.assets.upload.mockRejectedValue(stoppedError());
    const r = await cli(["assets", "upload", "ds1", "imgs", "--json"], client);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { error: { suggestion: string }; result: { totalPending?: number } };
    expect(doc.error.suggestion).toMatch(/--fail-after-all/);
  });
});

describe("assets upload --no-wait", () => {
  it("reads as an upload in progress, not as a failure, and prints the command that waits for it", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(
      new AssetUploadResult({
        totalFiles: 300,
        totalSucceeded: 0,
        failedFiles: [],
        sessions: [session("sess1", { total: 300, succeeded: 0, errored: 0 })],
        durationMs: 4000,
        bytesSent: 30_000_000,
        waited: false,
      }),
    );
    const r = await cli(["assets", "upload", "ds1", "imgs", "--no-wait"], client);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Files: +300 total, 0 succeeded, 0 failed, 300 sent, still being settled by the server/);
    expect(r.stdout).not.toMatch(/Success rate/);
    expect(r.stdout).toContain(
      "The server is still verifying and committing 300 files. To wait for the outcome, run:\n  vi-cli assets wait ds1 sess1\n",
    );
    const j = await cli(["assets", "upload", "ds1", "imgs", "--no-wait", "--json"], client);
    expect(JSON.parse(j.stdout)).toMatchObject({ waited: false, totalPending: 300, totalFailed: 0 });
  });
});

describe("assets upload interrupted (Ctrl-C)", () => {
  /** An upload that, once the run's signal aborts, reports what got in and rejects as the SDK does. */
  function interruptible() {
    const client = fakeClient();
    client.assets.upload.mockImplementation(
      ({ signal, onInterrupted }: { signal: AbortSignal; onInterrupted: (r: AssetUploadResult) => void }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            onInterrupted(
              new AssetUploadResult({
                totalFiles: 300,
                totalSucceeded: 120,
                failedFiles: [],
                sessions: [session("sess1", { total: 300, succeeded: 120, errored: 0 })],
                durationMs: 3000,
                bytesSent: 12_000_000,
                waited: false,
                interrupted: true,
              }),
            );
            reject(signal.reason);
          });
        }),
    );
    return client;
  }

  it("prints what was committed and how to resume; exit 130", async () => {
    const controller = new AbortController();
    const pending = cli(["assets", "upload", "ds1", "imgs"], interruptible(), { signal: controller.signal });
    setTimeout(() => controller.abort(new CliInterruptedError("interrupted (SIGINT)")), 10);
    const r = await pending;
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/^Upload summary \(interrupted\)$/m);
    expect(r.stdout).toMatch(/Files: +300 total, 120 succeeded, 0 failed, 180 not committed \(interrupted\)/);
    expect(r.stderr).toMatch(/^error: interrupted \(SIGINT\): 120 of 300 files committed$/m);
    expect(r.stderr).toMatch(
      /^hint: to upload the rest, run the same command again: committed files are recognised and not sent again$/m,
    );
  });

  it("--json: one document, the Interrupted error with the partial result", async () => {
    const controller = new AbortController();
    const pending = cli(["assets", "upload", "ds1", "imgs", "--json"], interruptible(), { signal: controller.signal });
    setTimeout(() => controller.abort(new CliInterruptedError("interrupted (SIGINT)")), 10);
    const r = await pending;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: { code: "Interrupted", suggestion: expect.stringMatching(/run the same command again/) },
      result: { interrupted: true, totalFiles: 300, totalSucceeded: 120, totalPending: 180 },
    });
  });
});
