import type { S3BlobStore, LandedObject } from "../store/blob/s3.js";
import type { ServiceContext } from "./context.js";
import type { IngestionService } from "./ingestion-service.js";
import type { PresignedUploads } from "./presigned-uploads.js";

/** How often the bucket's staging area is looked at when no client polls. */
const SWEEP_INTERVAL_MS = 5_000;

/**
 * The bucket's staging area, seen from the server's side: uploads of running sessions that no
 * client polls for are verified and committed here; objects of sessions that are settled,
 * expired or purged are deleted, and an expired session's missing files are failed.
 *
 * TODO(issue 11, replicas): every replica runs this today; the work is idempotent (a file is
 * committed once, deletes are harmless), only repeated. Once the metadata store can claim
 * background jobs (`FOR UPDATE SKIP LOCKED` leases), `sweepOnce` runs under such a claim.
 */
export class StagingSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly store: S3BlobStore,
    private readonly uploads: PresignedUploads,
    private readonly ingestion: IngestionService,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweepOnce()
        .catch((err: unknown) => this.ctx.log?.warn({ err }, "sweeping the bucket's staging area failed"))
        .finally(() => (this.running = undefined));
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the staging area; answers how many objects of finished sessions it deleted. */
  async sweepOnce(now = Date.now()): Promise<number> {
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
        await this.uploads.land(sessionId);
        if (now > session.expiresAt) await this.ingestion.settleExpired(session.orgId, sessionId);
        continue;
      }
      await this.uploads.deleteStaging(objects);
      deleted += objects.length;
    }
    return deleted;
  }
}
