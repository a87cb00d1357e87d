import type { S3BlobStore, LandedObject } from "../store/blob/s3.js";
import type { ServiceContext } from "./context.js";
import type { IngestionService } from "./ingestion-service.js";
import type { PresignedUploads } from "./presigned-uploads.js";

/** How often the bucket's staging area is looked at when no client polls. */
const SWEEP_INTERVAL_MS = 5_000;
/**
 * The next look, when the last one settled uploads of running sessions: clients that PUT many
 * files only poll once they have sent them all, and verifying them as they land keeps the
 * commits in step with the upload instead of all waiting for its end. (Objects that only fail
 * to read are looked at again at the usual pace.)
 */
const BUSY_INTERVAL_MS = 250;

/**
 * The bucket's staging area, seen from the server's side: uploads of running sessions that no
 * client polls for are verified and committed here; objects of sessions that are settled,
 * expired or purged are deleted, and an expired session's missing files are failed.
 *
 * Every replica runs it: the work is idempotent (a file is committed once, a delete of a deleted
 * object is harmless), and decided by the sessions' state in the database, never by memory.
 */
export class StagingSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private closed = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly store: S3BlobStore,
    private readonly uploads: PresignedUploads,
    private readonly ingestion: IngestionService,
  ) {}

  start(): void {
    this.schedule(SWEEP_INTERVAL_MS);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      let busy = false;
      this.running = this.sweepOnce(Date.now(), (files) => (busy ||= files > 0))
        .catch((err: unknown) => this.ctx.log?.warn({ err }, "sweeping the bucket's staging area failed"))
        .finally(() => {
          this.running = undefined;
          this.schedule(busy ? BUSY_INTERVAL_MS : SWEEP_INTERVAL_MS);
        });
    }, ms);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * One pass over the staging area; answers how many objects of finished sessions it deleted.
   * `settled` is told of files of running sessions it committed or refused.
   */
  async sweepOnce(now = Date.now(), settled?: (files: number) => void): Promise<number> {
    const bySession = new Map<string, LandedObject[]>();
    for await (const obj of this.store.listStaging()) {
      const list = bySession.get(obj.sessionId) ?? [];
      list.push(obj);
      bySession.set(obj.sessionId, list);
    }
    let deleted = 0;
    for (const [sessionId, objects] of bySession) {
      const session = await this.ctx.metadata.getSessionById(sessionId);
      if (session?.state === "Running") {
        settled?.(await this.uploads.land(sessionId));
        if (now > session.expiresAt) await this.ingestion.settleExpired(session.orgId, sessionId);
        continue;
      }
      await this.uploads.deleteStaging(objects);
      deleted += objects.length;
    }
    return deleted;
  }
}
