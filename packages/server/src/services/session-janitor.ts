import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { ServiceContext } from "./context.js";

const BATCH = 100;
const HOUR_MS = 3600_000;

/**
 * Purges upload and bulk-delete sessions once they have been settled (or their URLs expired)
 * for the retention period: a session of 10,000 files keeps its manifest rows, which nothing
 * needs after its client has read the outcome; then asks the store for its routine upkeep
 * (planner statistics). Runs at start and then every hour, in small
 * transactions with the event loop free between them.
 */
export class SessionJanitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  start(): void {
    this.running = this.purge();
    this.timer = setInterval(
      () => {
        this.running = this.purge();
      },
      Math.min(HOUR_MS, Math.max(1000, this.ctx.config.sessionRetentionHours * HOUR_MS)),
    );
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Purges what has passed retention as of `now`; answers the counts. */
  async purge(now = Date.now()): Promise<{ ingestion: number; deletion: number }> {
    const before = now - this.ctx.config.sessionRetentionHours * HOUR_MS;
    const total = { ingestion: 0, deletion: 0 };
    try {
      for (;;) {
        const n = await this.ctx.metadata.purgeSessions(before, BATCH);
        total.ingestion += n.ingestion;
        total.deletion += n.deletion;
        if (n.ingestion < BATCH && n.deletion < BATCH) {
          await this.ctx.metadata.maintain();
          return total;
        }
        await yieldToEventLoop();
      }
    } catch (err) {
      this.ctx.log?.warn({ err }, "purging old sessions failed; the next run tries again");
      return total;
    }
  }
}
