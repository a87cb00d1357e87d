import type { IngestionFileRecord, IngestionSessionRecord } from "../store/metadata/records.js";
import type { FileCommit } from "../store/metadata/metadata-store.js";
import { newId } from "../util/ids.js";
import type { BlobReleaser } from "./blob-releaser.js";
import type { ServiceContext } from "./context.js";

/**
 * Deduplication at session creation: files whose bytes are already stored need no upload.
 * Bytes are trusted only while they are there at their size, so a lost or damaged blob is never
 * referenced again (its file gets an upload target instead, and the upload restores it).
 */
export class Deduplication {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly releaser: BlobReleaser,
  ) {}

  /**
   * Files whose bytes the organization already holds need none sent. The same bytes under the
   * same filename (a re-run) are settled here and now; the same bytes elsewhere are committed
   * as new assets right after the session is recorded. Two bulk reads, whatever the batch size.
   */
  async plan(
    orgId: string,
    datasetId: string,
    session: IngestionSessionRecord,
    files: IngestionFileRecord[],
  ): Promise<FileCommit[]> {
    const candidates = files.filter((f) => f.state === "pending" && f.sha256 !== null);
    if (candidates.length === 0) return [];
    const existing = await this.ctx.metadata.findAssetsByFilename(
      orgId,
      datasetId,
      candidates.map((f) => f.filename),
    );
    const facts = await this.ctx.metadata.findBlobFacts(
      orgId,
      candidates.map((f) => f.sha256!),
    );
    // A re-run settles a file only while its stored bytes are there at their size: bytes lost
    // or quarantined (vi-cli fsck) are sent again, which restores them.
    const stored = new Map<string, number>();
    for (const f of candidates) {
      const current = existing.get(f.filename);
      if (current && current.sha256 === f.sha256) stored.set(current.sha256, current.fileSize);
    }
    // The checks run 64 at a time: one by one, 10,000 of them cost a re-run ~0.6 s.
    const present = new Map<string, boolean>();
    const shas = [...stored.keys()];
    for (let i = 0; i < shas.length; i += 64) {
      await Promise.all(
        shas
          .slice(i, i + 64)
          .map(async (sha) => present.set(sha, (await this.ctx.blobs.size(sha)) === stored.get(sha))),
      );
    }
    const commits: FileCommit[] = [];
    for (const f of candidates) {
      const current = existing.get(f.filename);
      if (
        current &&
        current.sha256 === f.sha256 &&
        current.fileSize === f.size &&
        f.customMetadata === null &&
        present.get(current.sha256)
      ) {
        f.state = "succeeded";
        f.assetId = current.assetId;
        f.deduplicated = true;
        session.succeeded++;
        continue;
      }
      const held = facts.get(f.sha256!);
      if (held && held.fileSize === f.size) {
        const { fileSize, ...imageFacts } = held;
        commits.push({
          sessionId: session.sessionId,
          fileIndex: f.fileIndex,
          newAssetId: newId(),
          deduplicated: true,
          asset: { ...imageFacts, filename: f.filename, sha256: f.sha256!, fileSize, customMetadata: f.customMetadata },
        });
      }
    }
    return commits;
  }

  /**
   * Commits files against bytes the organization already holds. Under those blobs' locks (so
   * no delete interleaves) each blob is trusted only if a row still references it and its
   * bytes are there at the recorded size; the files of any other stay pending and get an
   * upload target, so a lost or damaged blob is never referenced again.
   */
  async commit(commits: FileCommit[]): Promise<void> {
    const orphaned = await this.ctx.blobLocks.runAll(
      commits.map((c) => c.asset.sha256),
      async () => {
        const trusted = new Map<string, boolean>();
        for (const c of commits) {
          const sha = c.asset.sha256;
          if (!trusted.has(sha)) {
            const ok =
              (await this.ctx.metadata.isBlobReferenced(sha)) && (await this.ctx.blobs.size(sha)) === c.asset.fileSize;
            trusted.set(sha, ok);
          }
        }
        const results = await this.ctx.metadata.commitFiles(commits.filter((c) => trusted.get(c.asset.sha256)));
        this.ctx.onAssetsCommitted?.();
        return results.flatMap((r) => r?.orphanedBlobs ?? []);
      },
    );
    // A deduplicated file may replace an asset whose bytes nothing else references.
    await this.releaser.release(orphaned);
  }
}
