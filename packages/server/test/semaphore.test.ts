import { describe, expect, it } from "vitest";
import { Semaphore } from "../src/util/semaphore.js";

describe("Semaphore", () => {
  it("lets `capacity` holders in, queues the rest in arrival order, and a double release frees one slot", async () => {
    const gate = new Semaphore(2);
    const order: string[] = [];
    const a = await gate.acquire();
    const b = await gate.acquire();
    const c = gate.acquire().then((release) => (order.push("c"), release));
    const d = gate.acquire().then((release) => (order.push("d"), release));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    a();
    a(); // a second release of the same hold changes nothing
    const releaseC = await c;
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(["c"]);
    b();
    const releaseD = await d;
    expect(order).toEqual(["c", "d"]);
    releaseC();
    releaseD();
    // Both slots are free again: two holders get in at once.
    const [e, f] = await Promise.all([gate.acquire(), gate.acquire()]);
    e();
    f();
  });
});
