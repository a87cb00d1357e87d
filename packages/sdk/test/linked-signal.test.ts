import { describe, expect, it } from "vitest";
import { linkedSignal, Semaphore } from "../src/lib/concurrency.js";

describe("linkedSignal", () => {
  it("follows the caller's abort with its reason, and leaves no listener behind", async () => {
    const outer = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const scope = linkedSignal(outer.signal);
      // Hundreds of waiters on the inner signal: no MaxListenersExceededWarning.
      const slots = new Semaphore(1);
      const release = await slots.acquire(scope.signal);
      const waiting = Array.from({ length: 200 }, () => slots.acquire(scope.signal).catch((e: unknown) => e));
      outer.abort(new Error("stop"));
      const reasons = await Promise.all(waiting);
      expect(reasons.every((r) => r instanceof Error && r.message === "stop")).toBe(true);
      expect(scope.signal.reason).toBe(outer.signal.reason);
      release();
      scope.dispose();
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("is already aborted when the caller's signal is", () => {
    const outer = AbortSignal.abort(new Error("early"));
    expect(linkedSignal(outer).signal.aborted).toBe(true);
  });
});
