/** Work that must not interleave per key: in one process (KeyedMutex), or across replicas (advisory locks). */
export interface Locks {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Runs `work` holding every key's lock, taken so that two callers never deadlock. */
  runAll<T>(keys: Iterable<string>, work: () => Promise<T>): Promise<T>;
}

/**
 * Serialises work per key inside one process (e.g. publishing and deleting the same blob),
 * without holding up work on other keys.
 */
export class KeyedMutex implements Locks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Runs `work` holding every key's lock, taken in sorted order so that two callers never deadlock. */
  async runAll<T>(keys: Iterable<string>, work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const hold = (i: number): Promise<T> => (i === sorted.length ? work() : this.run(sorted[i]!, () => hold(i + 1)));
    return hold(0);
  }
}
