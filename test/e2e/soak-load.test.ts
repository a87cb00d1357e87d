import { describe, expect, it } from "vitest";
import { latencyTable } from "../helpers/soak-kit.mjs";
import { runLoad } from "../helpers/soak-load.mjs";
import { localOnly } from "../helpers/s3-bucket.mjs";

/**
 * The load run, short: 32 uploaders and 8 listers (filters, queries, sorts, counts, page walks,
 * downloads) for 10 s against a server in a child process (bench/soak.mjs runs it for 60 s).
 * Every answer is checked; latencies and CPU are printed, never asserted. The server's rate
 * limit is raised for the run (VI_RATE_LIMIT=10,000,000/min): the default 6,000 would be the
 * only thing measured. See test/helpers/soak-load.mjs.
 */
describe("load: 32 uploaders and 8 listers on loopback", () => {
  it.skipIf(
    localOnly("its uploaders read the asset from the server's own PUT answer; with a bucket the PUT goes to the store"),
  )(
    "answers every request correctly, no 5xx, in bounded memory",
    async () => {
      const result = await runLoad({ durationMs: 10_000, seedAssets: 300 });
      const { latencies, violations, ...figures } = result;
      console.log(`load (seed ${result.seed}): ${JSON.stringify(figures)}\n${latencyTable(latencies)}`);
      expect(violations).toEqual([]);
      expect(result.serverErrors).toBe(0);
      expect(result.uploadedFiles).toBeGreaterThan(0);
      expect(result.walks).toBeGreaterThan(0);
      // Bounded: the server's peak resident memory stays far below what a leak per request would reach.
      expect(result.memory.peakRssMb).toBeLessThan(1024);
    },
    120_000,
  );
});
