import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import {
  apiPaths,
  FAILURE_MODES,
  MAX_FILES_PER_SESSION,
  OVERWRITE_POLICIES,
  type IngestionSpec,
  type FailureMode,
  type IngestionFileSpec,
  type IngestionSession,
  type OnAssetOverwritten,
  type Organization,
  type UploadTarget,
} from "@vi/protocol";
import { ViError, ViFileTooLargeError, ViTimeoutError, ViUploadError, ViValidationError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import { sleep } from "../core/retry.js";
import { digestFile, type FileDigest } from "./checksum.js";
import { putInParts } from "./upload-parts.js";
import {
  METADATA_SIDECAR,
  readSidecar,
  resolveFileMetadata,
  type ResolvedFileMetadata,
  type Sidecar,
  type UnmatchedMetadataEntry,
  type UploadCustomMetadata,
} from "./custom-metadata.js";
import { DigestCache, defaultDigestCachePath } from "./digest-cache.js";
import { mapBounded, Semaphore, withLinkedSignal } from "./concurrency.js";
import { Progress } from "./progress.js";
import {
  fileCodeForPutError,
  GROUP_BYTES,
  GROUP_FILES,
  GROUPS_IN_FLIGHT,
  putGroup,
  type GroupItem,
  type GroupSender,
} from "./upload-groups.js";
import { AssetUploadResult, type FailedFile } from "./upload-result.js";
import { mimeForFilename, walk, type SkippedFile, type WalkedFile } from "./walk.js";

export interface UploadOptions {
  datasetId: string;
  /** A file, a folder (walked recursively), or a list of both. */
  paths: string | string[];
  /** Wait for the server to verify and commit every file (default true). */
  waitUntilDone?: boolean;
  /**
   * [ext] With `waitUntilDone`, also wait until the uploaded assets are processed (decoded,
   * thumbnailed, status final). Default false.
   */
  waitForProcessing?: boolean;
  failureMode?: FailureMode;
  onAssetOverwritten?: OnAssetOverwritten;
  /** Files per ingestion session, at most 10 000 (default 10 000). */
  batchSize?: number;
  /** PUTs in flight across the whole upload (default 16). */
  concurrency?: number;
  /**
   * Send small files several to a request when the server offers it ([ext] batch upload, default
   * true); false sends every file with its own PUT, as the Python client does.
   */
  batchSmallFiles?: boolean;
  /** Default: stderr is a terminal. */
  showProgress?: boolean;
  /**
   * Remember file digests by path and fingerprint so that re-running an upload of an unchanged
   * folder reads no file (default true; a string names the cache file; see DigestCache).
   */
  digestCache?: boolean | string;
  /**
   * Custom metadata: an object set on every uploaded asset, or a function asked for each file
   * (`{path, filename}`) that returns its object (or undefined for none). Values are strings,
   * finite numbers or booleans and keep their type.
   */
  customMetadata?: UploadCustomMetadata;
  /**
   * A JSON sidecar mapping each file's asset filename (the relative path the upload gives it,
   * `/`-separated) to an object of custom metadata, merged over `customMetadata` (a `null` value
   * drops that key). Without it, a `vi-metadata.json` at the root of each uploaded folder is used
   * when present, keyed by the paths relative to that folder. A sidecar is never uploaded; an
   * entry naming no file of the upload is not applied, and reported in the result's
   * `unmatchedMetadataEntries`.
   */
  metadataFile?: string;
  signal?: AbortSignal;
  /**
   * Called once when `signal` aborts the upload, just before it rejects with the signal's reason,
   * with what the upload did until then: `interrupted` is true, and the sessions opened are asked
   * once more (for a few seconds at most) so that `totalSucceeded` counts the files committed.
   * Running the same upload again sends only what is missing.
   */
  onInterrupted?: (partial: AssetUploadResult) => void;
}

export interface WaitOptions {
  datasetId: string;
  assetIngestionSessionId: string;
  /**
   * [ext] Also wait until the session's assets are processed (decoded, thumbnailed, their
   * `uploadStatus` `completed` and `status` final); `status.processing` then has the counts.
   * Default false: an upload is usable once it is committed.
   */
  processing?: boolean;
  /** Milliseconds to wait in all (default 30 minutes), then ViTimeoutError. */
  timeout?: number;
  signal?: AbortSignal;
}

/** What the upload needs from the client, so that it can be driven without one. */
export interface UploadContext {
  http: HttpClient;
  organizationId: string;
  getOrganization: (signal?: AbortSignal) => Promise<Organization>;
}

const HASH_CONCURRENCY = 4;
/** Batches whose PUTs may be pending at once: the next one is hashed and opened while the last one sends, but no more, so that upload URLs do not expire while they queue. */
const BATCHES_IN_FLIGHT = 2;
const LONG_POLL_SECONDS = 30;
/** After an interruption, how long the sessions may take to answer what they committed, in all. */
const INTERRUPTED_POLL_MS = 5000;
/** After a FailAfterOne stop, how long to give the server to record the failure before reporting. */
const STOPPED_POLL_SECONDS = 10;
/** Long-polls while files whose bytes never went keep a session from finishing. */
const UNSENT_POLL_SECONDS = 1;
export const DEFAULT_WAIT_TIMEOUT_MS = 30 * 60_000;

const invalid = (message: string) => new ViValidationError(message, { code: "InvalidParameter" });

/** The `Finished` condition's status, if the server reported one. */
export function finishedStatus(session: IngestionSession): string | undefined {
  return session.status.conditions.find((c) => c.condition === "Finished")?.status;
}

export const isFinished = (session: IngestionSession): boolean => {
  const status = finishedStatus(session);
  return status === "Reached" || status === "FailedReach";
};

/**
 * Finished, and none of its assets still processing. A server without processing (no
 * `status.processing`) has nothing more to wait for once the session is finished.
 */
export const isProcessed = (session: IngestionSession): boolean =>
  isFinished(session) && (session.status.processing?.processing ?? 0) === 0;

/** One long-poll: answers when the session finishes (or is processed) or after about `seconds`. */
export function pollSession(
  http: HttpClient,
  organizationId: string,
  datasetId: string,
  sessionId: string,
  seconds: number,
  signal?: AbortSignal,
  processing = false,
): Promise<IngestionSession> {
  return http.json<IngestionSession>({
    method: "GET",
    path: apiPaths.ingestionSession(organizationId, datasetId, sessionId),
    query: { waitFor: processing ? "Processed" : "Finished", timeout: String(seconds) },
    signal,
    // The server holds the answer up to `seconds`; the request timeout must outlast it.
    timeout: seconds * 1000 + http.timeout,
  });
}

/**
 * Long-polls a session until `Finished` is `Reached` or `FailedReach`. A server that answers at
 * once (no long-poll support) is polled at a slowly growing interval rather than in a tight loop.
 */
export async function waitForSession(
  http: HttpClient,
  organizationId: string,
  options: WaitOptions,
  early?: {
    /** Stops waiting when this says nothing more can happen (files whose bytes never went). */
    settled: (session: IngestionSession) => boolean;
    /** Shorter long-polls, so that `settled` is looked at often: `Finished` may be far off. */
    pollSeconds: number;
  },
): Promise<IngestionSession> {
  const timeout = options.timeout ?? DEFAULT_WAIT_TIMEOUT_MS;
  const deadline = Date.now() + timeout;
  let pause = 250;
  for (;;) {
    const remaining = deadline - Date.now();
    const seconds = Math.max(0, Math.min(early?.pollSeconds ?? LONG_POLL_SECONDS, Math.floor(remaining / 1000)));
    const asked = Date.now();
    const session = await pollSession(
      http,
      organizationId,
      options.datasetId,
      options.assetIngestionSessionId,
      seconds,
      options.signal,
      options.processing,
    );
    if ((options.processing ? isProcessed(session) : isFinished(session)) || early?.settled(session)) return session;
    if (Date.now() >= deadline) {
      const { succeeded, errored, total } = session.status.progressCount;
      const left = session.status.processing?.processing;
      const processing = isFinished(session) && left !== undefined ? `, ${left} asset(s) still processing` : "";
      throw new ViTimeoutError(
        `session ${options.assetIngestionSessionId} did not finish within ${timeout} ms (${succeeded + errored}/${total} files done${processing})`,
        { code: "Timeout", details: { session } },
      );
    }
    if (Date.now() - asked < 1000) {
      await sleep(Math.min(pause, Math.max(0, deadline - Date.now())), options.signal);
      pause = Math.min(pause * 2, 5000);
    }
  }
}

function validate(options: UploadOptions): void {
  if (options.failureMode !== undefined && !FAILURE_MODES.includes(options.failureMode)) {
    throw invalid(`failureMode must be one of ${FAILURE_MODES.join(", ")}, got ${String(options.failureMode)}`);
  }
  if (options.onAssetOverwritten !== undefined && !OVERWRITE_POLICIES.includes(options.onAssetOverwritten)) {
    throw invalid(
      `onAssetOverwritten must be one of ${OVERWRITE_POLICIES.join(", ")}, got ${String(options.onAssetOverwritten)}`,
    );
  }
  const batchSize = options.batchSize ?? MAX_FILES_PER_SESSION;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_FILES_PER_SESSION) {
    throw invalid(`batchSize must be a whole number from 1 to ${MAX_FILES_PER_SESSION}, got ${batchSize}`);
  }
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw invalid(`concurrency must be a whole number >= 1, got ${concurrency}`);
  const custom = options.customMetadata;
  if (custom !== undefined && typeof custom !== "function" && (typeof custom !== "object" || custom === null)) {
    throw invalid(`customMetadata must be an object or a function of the file, got ${typeof custom}`);
  }
  if (options.metadataFile !== undefined && (typeof options.metadataFile !== "string" || options.metadataFile === "")) {
    throw invalid("metadataFile must be the path of a JSON file");
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Each file's custom metadata, by filename (see UploadOptions.customMetadata and metadataFile),
 * read and checked before any request, and the sidecar entries that named no file.
 */
export async function metadataForFiles(
  files: readonly WalkedFile[],
  options: Pick<UploadOptions, "customMetadata" | "metadataFile">,
): Promise<ResolvedFileMetadata> {
  let sidecarOf: (file: WalkedFile) => Sidecar | undefined;
  if (options.metadataFile !== undefined) {
    const sidecar = await readSidecar(options.metadataFile);
    sidecarOf = () => sidecar;
  } else {
    const byRoot = new Map<string, Sidecar>();
    for (const root of new Set(files.flatMap((f) => (f.root === undefined ? [] : [f.root])))) {
      const path = join(root, METADATA_SIDECAR);
      if (await isFile(path)) byRoot.set(root, await readSidecar(path));
    }
    sidecarOf = (file) => (file.root === undefined ? undefined : byRoot.get(file.root));
  }
  return resolveFileMetadata(
    files.map((f) => ({ path: f.path, filename: f.filename, sidecar: sidecarOf(f) })),
    options.customMetadata,
  );
}

/**
 * The request body. Protocol's CreateIngestionSessionRequest cannot be used as is: its enum
 * fields are unions built from arrays, which TypeBox's Static types as `undefined`.
 */
interface SessionRequest {
  spec: Omit<IngestionSpec, "failureMode" | "onAssetOverwritten"> & {
    failureMode: FailureMode;
    onAssetOverwritten: OnAssetOverwritten;
  };
}

interface Batch {
  files: WalkedFile[];
  digests: Map<string, FileDigest>;
  session?: IngestionSession;
}

/** What an upload has done so far: what its result is made of, also when it is interrupted. */
interface UploadRun {
  started: number;
  /** Known once the paths are walked. */
  files?: WalkedFile[];
  skipped: SkippedFile[];
  unmatched: UnmatchedMetadataEntry[];
  /** Failures by filename, in the order they happened; the server's word replaces ours later. */
  failures: Map<string, FailedFile>;
  batches: Batch[];
  bytesSent: number;
  digestCache?: DigestCache | undefined;
}

/** The result of what `run` did, with the sessions as last seen; the sessions' Error events win over local failures. */
function resultOf(
  run: UploadRun,
  flags: { failAfterOne: boolean; waited: boolean; interrupted: boolean },
): AssetUploadResult {
  const files = run.files ?? [];
  const { failures } = run;
  const opened = run.batches.flatMap((b) => (b.session === undefined ? [] : [b.session]));
  const byFilename = new Map(files.map((f) => [f.filename, f]));
  for (const session of opened) {
    for (const event of session.status.events) {
      if (event.kind !== "Error") continue;
      for (const [filename, code] of Object.entries(event.files)) {
        const file = byFilename.get(filename);
        const reason = event.messages?.[filename] ?? failures.get(filename)?.reason ?? code;
        // The session's verdict is the authority; Map.set keeps the first-seen position.
        failures.set(filename, { path: file?.path ?? filename, filename, code, reason });
      }
    }
  }
  return new AssetUploadResult({
    totalFiles: files.length,
    totalSucceeded: opened.reduce((n, s) => n + s.status.progressCount.succeeded, 0),
    failedFiles: [...failures.values()],
    sessions: opened,
    durationMs: Date.now() - run.started,
    bytesSent: run.bytesSent,
    skippedFiles: run.skipped,
    unmatchedMetadataEntries: run.unmatched,
    // The server stops a FailAfterOne session at its first failure too, also one only it saw.
    stopped: flags.failAfterOne && failures.size > 0,
    waited: flags.waited,
    interrupted: flags.interrupted,
  });
}

/**
 * What an interrupted upload did: each session opened is asked once more, without waiting (a
 * few seconds in all, whatever the caller's signal), so that the files committed are counted.
 */
async function interruptedResult(ctx: UploadContext, datasetId: string, run: UploadRun): Promise<AssetUploadResult> {
  const deadline = AbortSignal.timeout(INTERRUPTED_POLL_MS);
  for (const batch of run.batches) {
    if (batch.session === undefined || deadline.aborted) continue;
    try {
      const id = batch.session.assetIngestionSessionId;
      batch.session = await pollSession(ctx.http, ctx.organizationId, datasetId, id, 0, deadline);
    } catch {
      // Keep the session as last seen: the count may then be lower than what got in.
    }
  }
  return resultOf(run, { failAfterOne: false, waited: false, interrupted: true });
}

/** Uploads files as the Python client does (PROTOCOL §3), in TypeScript idiom. */
export async function uploadAssets(ctx: UploadContext, options: UploadOptions): Promise<AssetUploadResult> {
  // Thousands of internal waits listen on one signal of our own, not on the caller's.
  return withLinkedSignal(options.signal, async (signal) => {
    const run: UploadRun = {
      started: Date.now(),
      skipped: [],
      unmatched: [],
      failures: new Map(),
      batches: [],
      bytesSent: 0,
    };
    try {
      return await uploadAssetsWithin(ctx, options, signal, run);
    } catch (error) {
      if (options.signal?.aborted && run.files !== undefined) {
        // What was hashed stays known for the next run; then say what got in.
        await run.digestCache?.save();
        if (options.onInterrupted) options.onInterrupted(await interruptedResult(ctx, options.datasetId, run));
      }
      throw error;
    }
  });
}

async function uploadAssetsWithin(
  ctx: UploadContext,
  options: UploadOptions,
  signal: AbortSignal,
  run: UploadRun,
): Promise<AssetUploadResult> {
  validate(options);
  const { http, organizationId } = ctx;
  const { datasetId } = options;
  const failureMode = options.failureMode ?? "FailAfterOne";
  const failAfterOne = failureMode === "FailAfterOne";

  const { files, skipped } = await walk(options.paths);
  const { metadata: metadataByFile, unmatched } = await metadataForFiles(files, options);
  Object.assign(run, { files, skipped, unmatched });
  const digestCache =
    options.digestCache === false
      ? undefined
      : await DigestCache.open(
          typeof options.digestCache === "string" ? options.digestCache : defaultDigestCachePath(),
        );
  run.digestCache = digestCache;
  const organization = await ctx.getOrganization(signal);
  const limits = organization.limits;

  const { failures } = run;
  const fail = (file: WalkedFile, code: string, reason: string) => {
    if (!failures.has(file.filename))
      failures.set(file.filename, { path: file.path, filename: file.filename, code, reason });
  };
  let stopped = false;
  const noteFailure = () => {
    if (failAfterOne) stopped = true;
  };

  // `limits` is an [ext]: a server that predates it sends none, and then the server alone decides.
  const maxFileSize = limits?.maxFileSize;
  let sendable = files;
  if (maxFileSize !== undefined) {
    const oversized = files.filter((f) => f.size > maxFileSize);
    if (oversized.length > 0 && failAfterOne) {
      const first = oversized[0] as WalkedFile;
      const more = oversized.length > 1 ? ` (and ${oversized.length - 1} more file(s) over it)` : "";
      throw new ViFileTooLargeError(
        `${first.path} is ${first.size} bytes, over the server's limit of ${maxFileSize} bytes${more}; nothing was sent`,
        {
          code: "FileTooLarge",
          path: first.path,
          size: first.size,
          maxFileSize,
          details: { files: oversized.map((f) => f.path) },
        },
      );
    }
    for (const f of oversized)
      fail(f, "EBADSIZE", `${f.size} bytes is over the server's limit of ${maxFileSize} bytes`);
    sendable = files.filter((f) => f.size <= maxFileSize);
  }

  const batchSize = Math.min(
    options.batchSize ?? MAX_FILES_PER_SESSION,
    limits?.maxFilesPerSession ?? MAX_FILES_PER_SESSION,
  );
  const { batches } = run;
  for (let i = 0; i < sendable.length; i += batchSize)
    batches.push({ files: sendable.slice(i, i + batchSize), digests: new Map() });

  const progress = new Progress({ enabled: options.showProgress });
  const totalBytes = sendable.reduce((n, f) => n + f.size, 0);
  const puts = new Semaphore(options.concurrency ?? 16);
  const groups = new Semaphore(Math.min(options.concurrency ?? 16, GROUPS_IN_FLIGHT));

  const putFile = async (file: WalkedFile, digest: FileDigest, target: UploadTarget): Promise<void> => {
    const release = await puts.acquire(signal);
    try {
      // FailAfterOne stops starting new PUTs at the first failure; those in flight finish.
      if (stopped) return;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(target.headers ?? {})) headers[name.toLowerCase()] = value;
      headers["content-length"] = String(digest.size);
      let counted = 0;
      const open = (): Readable => {
        progress.update(0, -counted);
        counted = 0;
        // Exactly the bytes that were hashed: a file that grew since is cut to its declared size,
        // one that shrank fails on the content-length mismatch and the server sees no bad asset.
        // The read buffer is sized to the file: a 1 MiB one per small image costs more than the PUT.
        const source =
          digest.size === 0
            ? Readable.from([])
            : createReadStream(file.path, {
                start: 0,
                end: digest.size - 1,
                highWaterMark: Math.min(digest.size, 1 << 20),
              });
        // Count through a Transform, never a 'data' listener: a listener starts the file flowing
        // before the connection is ready, undici then finds it drained and sends an empty body
        // (seen as `content-length: 0` under load).
        const meter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            counted += chunk.length;
            progress.update(0, chunk.length);
            done(null, chunk);
          },
        });
        source.once("error", (err: Error) => meter.destroy(err));
        return source.pipe(meter);
      };
      if (target.multipart) {
        // [ext] A large file to a bucket: in parts, which resume and run in parallel.
        await putInParts(http, target.multipart, file.path, digest.size, signal, (n) => progress.update(0, n));
      } else {
        await http.transfer({ method: "PUT", url: http.resolveUrl(target.url), headers, body: open, signal }, (res) =>
          res.body.dump(),
        );
      }
      run.bytesSent += digest.size;
      progress.update(1, 0);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const viError = error instanceof ViError ? error : undefined;
      const code = viError ? fileCodeForPutError(viError, file.filename) : "ENOASSET";
      fail(file, code, (error as Error).message);
      noteFailure();
    } finally {
      release();
    }
  };

  const sender: GroupSender = {
    http,
    signal,
    puts,
    groups,
    stopped: () => stopped,
    failed: (file, code, reason) => {
      fail(file, code, reason);
      noteFailure();
    },
    sent: (item) => {
      run.bytesSent += item.digest.size;
      progress.update(1, item.digest.size);
    },
  };

  const openSession = async (batch: Batch): Promise<IngestionSession> => {
    const assets: IngestionFileSpec[] = batch.files.map((f) => {
      const digest = batch.digests.get(f.filename) as FileDigest;
      return {
        filename: f.filename,
        mime: mimeForFilename(f.filename) as string,
        size: digest.size,
        crc32c: digest.crc32c,
        sha256: digest.sha256,
        customMetadata: metadataByFile.get(f.filename) ?? null,
        kind: "Image",
      };
    });
    const body: SessionRequest = {
      spec: {
        kind: "Upload",
        failureMode,
        onAssetOverwritten: options.onAssetOverwritten ?? "RemoveLinkedResource",
        assets,
      },
    };
    return http.json<IngestionSession>({
      method: "POST",
      path: apiPaths.ingestionSessions(organizationId, datasetId),
      body,
      signal,
    });
  };

  const sendBatch = async (batch: Batch, session: IngestionSession): Promise<void> => {
    const targets = new Map(session.status.assets.map((a) => [a.metadata.filename, a.upload]));
    // [ext] A server that offers it takes small files several to a request.
    const grouped = options.batchSmallFiles === false ? undefined : session.status.batchUpload;
    const pending: Promise<void>[] = [];
    let group: GroupItem[] = [];
    let groupBytes = 0;
    const flush = () => {
      if (group.length > 0 && grouped) pending.push(putGroup(sender, group, grouped));
      group = [];
      groupBytes = 0;
    };
    let done = 0;
    let doneBytes = 0;
    for (const [fileIndex, file] of batch.files.entries()) {
      const digest = batch.digests.get(file.filename);
      const target = targets.get(file.filename);
      if (digest === undefined) continue;
      if (target === undefined) {
        // Deduplicated, or refused in the manifest (an Error event says so): no bytes to send.
        done++;
        doneBytes += digest.size;
        continue;
      }
      if (grouped && digest.size <= grouped.maxFileBytes) {
        // The manifest's order is the session's file index.
        const limitFiles = Math.min(GROUP_FILES, grouped.maxFiles);
        const limitBytes = Math.min(GROUP_BYTES, grouped.maxBytes);
        if (group.length >= limitFiles || groupBytes + digest.size + 8 > limitBytes) flush();
        group.push({ file, digest, fileIndex });
        groupBytes += digest.size + 8;
        continue;
      }
      pending.push(putFile(file, digest, target));
    }
    flush();
    progress.update(done, doneBytes);
    await Promise.all(pending);
  };

  const sending: Promise<void>[] = [];
  // One line at a time: Hashing (every file) until the first batch's session opens, then
  // Uploading, which notes the hashing of later batches while it runs ahead of the sending.
  let uploading = false;
  let hashed = 0;
  const noteHashing = () => progress.setNote(hashed < sendable.length ? `hashed ${hashed}/${sendable.length}` : "");
  const hashedOne = (bytes: number) => {
    hashed++;
    if (uploading) noteHashing();
    else progress.update(1, bytes);
  };
  try {
    progress.phase("Hashing", { files: sendable.length, bytes: totalBytes });
    for (const batch of batches) {
      if (stopped) break;
      const hashes = await mapBounded(batch.files, HASH_CONCURRENCY, async (file) => {
        if (stopped) return undefined;
        try {
          const digest = digestCache
            ? await digestCache.digest(file.path, signal)
            : await digestFile(file.path, signal);
          hashedOne(digest.size);
          return digest;
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          hashedOne(0);
          fail(file, "EUNKNOWN", `cannot read the file: ${(error as Error).message}`);
          noteFailure();
          return undefined;
        }
      });
      if (stopped) break;
      batch.files.forEach((f, i) => {
        const digest = hashes[i];
        if (digest !== undefined) batch.digests.set(f.filename, digest);
      });
      batch.files = batch.files.filter((f) => batch.digests.has(f.filename));
      if (batch.files.length === 0) continue;
      // Keep at most BATCHES_IN_FLIGHT batches sending before opening another session.
      const waitFor = sending[sending.length - BATCHES_IN_FLIGHT];
      if (waitFor !== undefined) await waitFor;
      if (stopped) break;
      const session = await openSession(batch);
      batch.session = session;
      if (!uploading) {
        uploading = true;
        // Hashing that is over keeps its line, at its final count; hashing still running shows as a note.
        if (hashed === sendable.length) progress.finish();
        progress.phase("Uploading", { files: sendable.length, bytes: totalBytes });
        noteHashing();
      }
      const refused =
        session.status.events.some((e) => e.kind === "Error") || finishedStatus(session) === "FailedReach";
      if (refused) noteFailure();
      if (stopped) break;
      const promise = sendBatch(batch, session);
      // Awaited below; the no-op handler keeps an early rejection from being reported as unhandled meanwhile.
      promise.catch(() => undefined);
      sending.push(promise);
    }
    await Promise.all(sending);
  } catch (error) {
    await Promise.allSettled(sending);
    progress.finish();
    throw error;
  }

  const opened = batches.filter((b): b is Batch & { session: IngestionSession } => b.session !== undefined);
  const waitUntilDone = options.waitUntilDone ?? true;
  try {
    if (waitUntilDone && opened.length > 0) {
      // Every PUT is over: the Uploading line stays, at its final count.
      progress.finish();
      progress.phase("Processing", { files: opened.length, unit: "batches" });
    }
    for (const batch of waitUntilDone ? opened : []) {
      const sessionId = batch.session.assetIngestionSessionId;
      // A file whose PUT failed for good never reaches the server, which would then wait for its
      // bytes until its URL expires: stop waiting once only such files are left.
      const unsent = batch.files.filter((f) => failures.has(f.filename)).map((f) => f.filename);
      const settled = (session: IngestionSession): boolean => {
        const reported = new Set(
          session.status.events.flatMap((e) => (e.kind === "Error" ? Object.keys(e.files) : [])),
        );
        const { total, succeeded, errored } = session.status.progressCount;
        return succeeded + errored + unsent.filter((f) => !reported.has(f)).length >= total;
      };
      const wait = {
        datasetId,
        assetIngestionSessionId: sessionId,
        timeout: Number.POSITIVE_INFINITY,
        signal,
        processing: options.waitForProcessing === true,
      };
      batch.session = stopped
        ? await pollSession(http, organizationId, datasetId, sessionId, STOPPED_POLL_SECONDS, signal)
        : await waitForSession(
            http,
            organizationId,
            wait,
            unsent.length > 0 ? { settled, pollSeconds: UNSENT_POLL_SECONDS } : undefined,
          );
      progress.update(1, 0);
    }
  } finally {
    progress.finish();
    await digestCache?.save();
  }

  const result = resultOf(run, { failAfterOne, waited: waitUntilDone, interrupted: false });
  const first = result.failedFiles[0];
  if (failAfterOne && first !== undefined) {
    const more = result.totalFailed > 1 ? ` (${result.totalFailed} files failed in all)` : "";
    const untried = result.totalPending > 0 ? `, ${result.totalPending} file(s) were not uploaded` : "";
    throw new ViUploadError(`upload failed at ${first.path}: ${first.code}: ${first.reason}${more}`, {
      code: "UploadFailed",
      suggestion:
        `failureMode "FailAfterOne" (the default) stops at the first failed file${untried}: ` +
        `pass failureMode: "FailAfterAll" to upload every file that can be and get each failure in the result ` +
        `(files already uploaded are not sent again)`,
      details: { firstFailure: first, failedFiles: result.failedFiles.slice(0, 20) },
      result,
    });
  }
  return result;
}
