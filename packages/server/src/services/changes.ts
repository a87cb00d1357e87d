import { once, type EventEmitter } from "node:events";

/**
 * Waits until `id` is emitted on `changes` (a session moved), `ms` pass, or `signal` aborts:
 * long-polls read the store again after each wake-up, so a missed or spurious wake-up only
 * costs one read.
 */
export async function nextChange(changes: EventEmitter, id: string, ms: number, signal?: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(ms);
  try {
    await once(changes, id, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch {
    // Timed out or aborted: the caller reads the store again either way.
  }
}
