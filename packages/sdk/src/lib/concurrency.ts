import { setMaxListeners } from "node:events";
/** Bounded concurrency: at most `limit` tasks at once, in the order they asked. */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency must be a whole number >= 1, got ${limit}`);
    this.#limit = limit;
  }

  /** Resolves with a release function once a slot is free; rejects if the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.#limit) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        this.#active++;
        resolve(this.#releaser());
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(grant);
        if (at !== -1) this.#waiting.splice(at, 1);
        reject(signal?.reason);
      };
      this.#waiting.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await task();
    } finally {
      release();
    }
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#waiting.shift()?.();
    };
  }
}

/**
 * Maps `items` through `task` with at most `limit` in flight, keeping the order of results.
 * After the first failure no new task starts; the ones in flight are awaited, then it rethrows.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
  return results;
}

/**
 * A signal of our own that follows the caller's, for bulk operations: every queued file and
 * request listens on it (Node would warn about a possible leak past ten listeners on the
 * caller's signal), while the caller's signal gets one listener, removed by `dispose`.
 */
export function linkedSignal(outer: AbortSignal | undefined): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  if (!outer) return { signal: controller.signal, dispose: () => undefined };
  if (outer.aborted) controller.abort(outer.reason);
  const forward = () => controller.abort(outer.reason);
  outer.addEventListener("abort", forward, { once: true });
  return { signal: controller.signal, dispose: () => outer.removeEventListener("abort", forward) };
}

/** Runs a bulk operation on a signal of its own that follows the caller's (see linkedSignal). */
export async function withLinkedSignal<T>(
  outer: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const scope = linkedSignal(outer);
  try {
    return await work(scope.signal);
  } finally {
    scope.dispose();
  }
}
