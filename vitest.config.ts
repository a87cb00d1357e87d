import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Uploads under test remember the digests of their temporary files. They must never land in the
 * user's own cache (~/.cache/vi/digests.json): the run gets a cache folder of its own, which
 * test/global-setup.ts removes at the end (test/cache-isolation.test.ts checks both).
 */
export const TEST_CACHE_DIR = join(tmpdir(), `vi-test-cache-${process.pid}`);

const RESULTS = process.env.VI_TEST_BACKEND === "scaleout" ? ".ci/results-scaleout.json" : ".ci/results.json";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end suites each start their own server on an ephemeral port; two cores here.
    maxWorkers: 2,
    env: { VI_CACHE_DIR: TEST_CACHE_DIR },
    globalSetup: ["test/global-setup.ts"],
    // Under CI a JSON report is written too (one per configuration): .ci/run reads their counts
    // for the final summary line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: RESULTS }]] : ["default"],
  },
});
