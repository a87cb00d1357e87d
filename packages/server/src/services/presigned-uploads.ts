import { ApiError, FileRejection } from "../errors.js";
import { forEachLimit } from "../util/for-each-limit.js";
import type { S3BlobStore, LandedObject } from "../store/blob/s3.js";
import { partSizeFor, MAX_PARTS, type CompletedPart } from "../store/blob/s3-multipart.js";
import type { IngestionFileRecord, IngestionSessionRecord } from "../store/metadata/records.js";
import type { ServiceContext } from "./context.js";
import type { IngestionService, SessionView, UploadTargetView } from "./ingestion-service.js";

/**
 * Files of one session verified at once. Each is a few requests to the store one after the
 * other (read back, look for the blob, write it), so this many keep a store of some latency busy;
 * each is read back into a scratch file, never into memory.
 */
const LAND_CONCURRENCY = 16;
/**
 * An object the store dates this long after its session's URLs expired was not sent in time
 * (the store's clock and ours may differ a little). A store that ignores presigned expiry or
 * signatures (s3rver) is caught here, not trusted.
 */
const CLOCK_SKEW_MS = 5_000;

/** [ext] How a client uploads a large file in parts straight to the bucket. */
export interface MultipartTargetView {
  /** Signed POST that starts the multipart upload and answers the presigned part URLs. */
  start: string;
  /** Signed POST `{uploadId, parts: [{partNumber, etag}]}` that completes it. */
  complete: string;
  partSize: number;
}

/** A file being verified: `judged` once it passed its checks or was refused; `settled` once all is done. */
interface Landing {
  judged: Promise<void>;
  /** True when the file was committed or refused; false when a fault left it for another pass. */
  settled: Promise<boolean>;
}

export interface StartedMultipart {
  uploadId: string;
  partSize: number;
  parts: { partNumber: number; url: string; size: number }[];
}

/**
 * Uploads straight to the bucket: each file's target is a presigned PUT of its staging key
 * (`staging/<session>/<file index>`), so its bytes never pass through the API server. The
 * server learns that they landed by listing the session's staging objects (on status reads and
 * long-polls, on any replica, and in the StagingSweeper), then reads each one back and checks it
 * exactly as a PUT to the server would be checked (size, CRC-32C, SHA-256, media probe) before it
 * commits the asset. The store's own checks (signatures, checksums) are a bonus, never relied on.
 */
export class PresignedUploads {
  /**
   * Files being verified in this process, by session and file index, so a poll and the sweeper
   * never read one twice, and a FailAfterOne session commits no file while an earlier one is
   * still to be judged.
   */
  private readonly inFlight = new Map<string, Map<number, Landing>>();
  /** Staging objects done with, deleted together at the end of a landing pass. */
  private done: string[] = [];
  private deleting: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly ingestion: IngestionService,
    private readonly store: S3BlobStore,
    private readonly multipartThreshold: number,
  ) {}

  /** Presigned PUTs for the files still expecting bytes (and [ext] a multipart target for large ones). */
  async targets(view: SessionView): Promise<Map<number, UploadTargetView & { multipart?: MultipartTargetView }>> {
    const { session } = view;
    const out = new Map<number, UploadTargetView & { multipart?: MultipartTargetView }>();
    if (session.state !== "Running") return out;
    for (const file of view.files) {
      if (file.state !== "pending") continue;
      const key = this.store.stagingKey(session.sessionId, file.fileIndex);
      const put = await this.store.presignPut(key, file.crc32c, session.expiresAt);
      const base = multipartPath(session.sessionId, file.fileIndex);
      out.set(file.fileIndex, {
        url: put.url,
        expiry: session.expiresAt,
        method: "PUT",
        headers: put.headers,
        ...(file.size > this.multipartThreshold
          ? {
              multipart: {
                start: this.ctx.signer.sign("upload", base, session.expiresAt),
                complete: this.ctx.signer.sign("upload", `${base}/complete`, session.expiresAt),
                partSize: partSizeFor(file.size),
              },
            }
          : {}),
      });
    }
    return out;
  }

  /**
   * Verifies and commits whatever has landed for this session. Concurrent calls for the same
   * files share the work; a storage fault leaves the object for the next call. Answers how many
   * files were settled (committed or refused).
   */
  async land(sessionId: string): Promise<number> {
    const session = await this.ctx.metadata.getSessionById(sessionId);
    if (!session || session.state !== "Running") return 0;
    const landed: LandedObject[] = [];
    for await (const obj of this.store.listStaging(sessionId)) landed.push(obj);
    if (landed.length === 0) return 0;
    const pending = new Map(
      (await this.ctx.metadata.listSessionFiles(sessionId, ["pending"])).map((f) => [f.fileIndex, f]),
    );
    // In file order: the store lists keys as text ("10" before "2").
    const work = landed.filter((o) => pending.has(o.fileIndex)).sort((a, b) => a.fileIndex - b.fileIndex);
    const stale = landed.filter((o) => !pending.has(o.fileIndex));
    // Objects of files already settled (a repeated PUT after the commit) are not looked at again.
    if (stale.length > 0) await this.deleteStaging(stale).catch(() => undefined);
    let settled = 0;
    await forEachLimit(work, LAND_CONCURRENCY, async (o) => {
      if (await this.landOne(session, pending.get(o.fileIndex)!, o)) settled++;
    });
    await this.deleteDone();
    return settled;
  }

  /**
   * One DeleteObjects for the staging objects verified since the last (left for the sweep on a
   * fault). Deletes are chained, and every pass waits for all issued so far: a file another pass
   * verified is gone from the bucket by the time this one answers.
   */
  private deleteDone(): Promise<void> {
    const keys = this.done;
    this.done = [];
    if (keys.length > 0) {
      this.deleting = this.deleting.then(() => this.store.deleteKeys(keys).catch(() => undefined));
    }
    return this.deleting;
  }

  private landOne(session: IngestionSessionRecord, file: IngestionFileRecord, obj: LandedObject): Promise<boolean> {
    const { sessionId } = session;
    let verifying = this.inFlight.get(sessionId);
    if (!verifying) this.inFlight.set(sessionId, (verifying = new Map()));
    let landing = verifying.get(file.fileIndex);
    if (!landing) {
      // FailAfterOne stops at the first file that fails: a file that passed its checks waits until
      // every earlier file being verified here has passed too or has failed the session, so it is
      // not committed when one of them is about to fail it (as it would not be had the files been
      // PUT to the server one after the other). Only the verdicts wait: reading back and writing
      // the blobs still overlap. Earlier files verified by another replica are not waited for.
      const earlier =
        session.failureMode === "FailAfterOne"
          ? [...verifying].filter(([index]) => index < file.fileIndex).map(([, l]) => l.judged)
          : [];
      let judge!: () => void;
      const judged = new Promise<void>((resolve) => (judge = resolve));
      const passed = async () => {
        judge();
        await Promise.all(earlier);
      };
      const key = this.store.stagingKey(sessionId, file.fileIndex);
      const settled = this.verifyAndCommit(session, file, obj, key, passed).finally(() => {
        judge(); // refused (the rejection is recorded by now) or stopped by a fault
        verifying.delete(file.fileIndex);
        if (verifying.size === 0 && this.inFlight.get(sessionId) === verifying) this.inFlight.delete(sessionId);
      });
      landing = { judged, settled };
      verifying.set(file.fileIndex, landing);
    }
    return landing.settled;
  }

  private async verifyAndCommit(
    session: IngestionSessionRecord,
    file: IngestionFileRecord,
    obj: LandedObject,
    key: string,
    passed: () => Promise<void>,
  ): Promise<boolean> {
    try {
      if (obj.lastModified > session.expiresAt + CLOCK_SKEW_MS) {
        const late = new FileRejection("ETIMEOUT", "the bytes arrived after the upload URL expired");
        await this.ingestion.reject(session, file, late);
      } else {
        // The same path as a PUT to the server: staged locally while measured, checked, published
        // from that verified copy, committed. A rejection fails the file (and with FailAfterOne its session).
        await this.ingestion.receive(session.sessionId, file.fileIndex, this.store.readKey(key), obj.size, {
          beforeCommit: passed,
        });
      }
    } catch (err) {
      if (!(err instanceof FileRejection) && !(err instanceof ApiError)) {
        // A storage or network fault: the object stays, and the next poll or sweep tries again.
        this.ctx.log?.warn(
          { err, sessionId: session.sessionId, fileIndex: file.fileIndex },
          "verifying an upload failed",
        );
        return false;
      }
    }
    // Committed or refused: the staging object has served its purpose either way.
    this.done.push(key);
    return true;
  }

  /** Removes staging objects; the sweeper's job for sessions that are settled, expired or gone. */
  async deleteStaging(objects: LandedObject[]): Promise<void> {
    await this.store.deleteKeys(objects.map((o) => this.store.stagingKey(o.sessionId, o.fileIndex)));
  }

  /** [ext] Starts a multipart upload of a large file to its staging key; answers presigned part URLs. */
  async startMultipart(sessionId: string, fileIndex: number): Promise<StartedMultipart> {
    const { session, file } = await this.pendingFile(sessionId, fileIndex);
    const key = this.store.stagingKey(sessionId, fileIndex);
    const partSize = partSizeFor(file.size);
    const count = Math.max(1, Math.ceil(file.size / partSize));
    if (count > MAX_PARTS) throw new ApiError("InvalidParameter", `file needs ${count} parts, over ${MAX_PARTS}`);
    const uploadId = await this.store.multipart.create(key);
    const expiresIn = Math.max(1, Math.floor((session.expiresAt - Date.now()) / 1000));
    const parts = [];
    for (let n = 1; n <= count; n++) {
      const size = Math.min(partSize, file.size - (n - 1) * partSize);
      parts.push({ partNumber: n, url: await this.store.multipart.presignPart(key, uploadId, n, expiresIn), size });
    }
    return { uploadId, partSize, parts };
  }

  /**
   * [ext] Completes a multipart upload (parts as the store lists them; the client's list where the
   * store cannot list), then starts verifying the object like any landed upload, without making
   * the call wait: reading back gigabytes can outlast a client's timeout. The session's status
   * says how it went.
   */
  async completeMultipart(sessionId: string, fileIndex: number, uploadId: string, reported: CompletedPart[]) {
    await this.pendingFile(sessionId, fileIndex);
    const key = this.store.stagingKey(sessionId, fileIndex);
    try {
      await this.store.multipart.complete(key, uploadId, reported);
    } catch (err) {
      throw new ApiError(
        "InvalidParameter",
        `The store refused to complete this multipart upload: ${(err as Error).message}`,
        "Upload every part to its URL, then complete with the upload id the start call answered.",
      );
    }
    void this.land(sessionId).catch((err: unknown) =>
      this.ctx.log?.warn(
        { err, sessionId, fileIndex },
        "verifying a completed multipart upload failed; the sweep tries again",
      ),
    );
  }

  private async pendingFile(sessionId: string, fileIndex: number) {
    const session = await this.ctx.metadata.getSessionById(sessionId);
    const file = session && (await this.ctx.metadata.getSessionFile(sessionId, fileIndex));
    if (!session || !file) throw new ApiError("ResourceNotFound", `No upload target ${sessionId}/${fileIndex}`);
    if (session.state !== "Running" || file.state !== "pending") {
      throw new ApiError(
        "ResourceConflict",
        `${file.filename} takes no more bytes in this session`,
        "Start a new upload session.",
      );
    }
    return { session, file };
  }
}

export const multipartPath = (sessionId: string, fileIndex: number): string =>
  `/uploads/${sessionId}/${fileIndex}/multipart`;
