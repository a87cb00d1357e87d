import type { BulkDeleteSpec } from "@vi/protocol";
import { invalid, notFound } from "../errors.js";
import type { DeletionSessionRecord } from "../store/metadata/records.js";
import { newId } from "../util/ids.js";
import type { AssetService } from "./asset-service.js";
import type { BlobReleaser } from "./blob-releaser.js";
import { nextChange } from "./changes.js";
import type { ServiceContext } from "./context.js";
import type { DatasetService } from "./dataset-service.js";

const POLL_SLICE_MS = 500;
const RETRY_MS = 2000;
/**
 * How often running sessions are looked for again: on PostgreSQL a session whose replica died
 * (or was stopped) is taken up by another. Batches take the session's row lock, so two
 * replicas on one session take turns.
 */
const ADOPT_MS = 30_000;

/**
 * Bulk deletes by selection (`deleteManyAssetsSessions`). The selection is fixed when the
 * session opens; batches then delete whole assets in the background, and the bytes of each
 * batch go once its rows are committed. A restart resumes every unfinished session, and a crash
 * between a batch's commit and its byte deletion leaves only unreferenced bytes, which the
 * crash sweep at start removes: an asset is always either whole or gone.
 */
export class DeletionService {
  private readonly running = new Map<string, Promise<void>>();
  private closed = false;
  private adopter: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly datasets: DatasetService,
    private readonly assets: AssetService,
    private readonly releaser: BlobReleaser,
  ) {}

  async create(orgId: string, datasetId: string, spec: BulkDeleteSpec): Promise<DeletionSessionRecord> {
    await this.datasets.require(orgId, datasetId);
    const selection = this.assets.selection(spec);
    if (!selection) {
      throw invalid(
        "A bulk delete must select assets with a filter or a metadataQuery",
        { parameter: "spec" },
        "To delete every asset, delete the dataset.",
      );
    }
    const t = Date.now();
    const session = await this.ctx.metadata.createDeletionSession(
      {
        sessionId: newId(),
        orgId,
        datasetId,
        spec: { ...spec },
        dryRun: spec.dryRun === true,
        failureReason: null,
        createdAt: t,
        updatedAt: t,
        generation: 1,
      },
      selection,
    );
    if (session.state === "Running") this.start(session.sessionId);
    return session;
  }

  /** The session, after waiting up to `waitMs` for it to finish. */
  async status(
    orgId: string,
    datasetId: string,
    sessionId: string,
    waitMs = 0,
    signal?: AbortSignal,
  ): Promise<DeletionSessionRecord> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const session = await this.ctx.metadata.getDeletionSession(orgId, datasetId, sessionId);
      if (!session) {
        await this.datasets.require(orgId, datasetId);
        throw notFound("Bulk delete session", sessionId);
      }
      const left = deadline - Date.now();
      if (session.state !== "Running" || left <= 0 || signal?.aborted) return session;
      await nextChange(this.ctx.sessionChanges, sessionId, Math.min(left, POLL_SLICE_MS), signal);
    }
  }

  /** Picks up the sessions a previous run (or another replica, gone since) left unfinished, now and then periodically. */
  async resume(): Promise<void> {
    await this.adopt();
    this.adopter ??= setInterval(() => {
      this.adopt().catch((err: unknown) => this.ctx.log?.warn({ err }, "looking for unfinished bulk deletes failed"));
    }, ADOPT_MS);
    this.adopter.unref();
  }

  private async adopt(): Promise<void> {
    for (const s of await this.ctx.metadata.runningDeletionSessions()) this.start(s.sessionId);
  }

  /** Stops taking new batches and waits for the one in flight. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.adopter);
    await Promise.allSettled(this.running.values());
  }

  private start(sessionId: string): void {
    if (this.running.has(sessionId) || this.closed) return;
    const run = this.run(sessionId).finally(() => this.running.delete(sessionId));
    this.running.set(sessionId, run);
  }

  private async run(sessionId: string): Promise<void> {
    while (!this.closed) {
      try {
        const batch = await this.ctx.metadata.deleteNextBatch(sessionId, this.ctx.config.deleteBatchSize);
        await this.releaser.release(batch.orphanedBlobs);
        this.ctx.sessionChanges.emit(sessionId);
        if (batch.finished) return;
      } catch (err) {
        // A transient store fault (busy, disk full) must not lose the session: it stays
        // Running, and this loop (or the next start) tries again.
        this.ctx.log?.warn({ err, sessionId }, "bulk delete batch failed; retrying");
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }
}
