import { createHash, type Hash } from "node:crypto";
import { constants, createWriteStream, type Stats } from "node:fs";
import { lstat, mkdir, open, realpath, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, resolve, sep } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Asset } from "@vi/protocol";
import type { Dispatcher } from "undici";
import { ViError, ViValidationError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import type { Page } from "../core/pagination.js";
import { crc32c } from "@node-rs/crc32";
import { digestFile, toSigned32, type FileDigest } from "./checksum.js";
import { Semaphore, withLinkedSignal } from "./concurrency.js";
import { DigestCache, defaultDigestCachePath } from "./digest-cache.js";
import { Progress } from "./progress.js";
import { filterText, queryText, type AssetSelection } from "./selection.js";

/** `filter`, `metadataQuery` and `strictQuery` download only the selection (as `assets.list` selects). */
export interface DownloadOptions extends AssetSelection {
  datasetId: string;
  saveDir: string;
  /** Replace files already in saveDir (default false: they are checked and kept). */
  overwrite?: boolean;
  /** Files in flight, each on a kept-alive connection (default 16). */
  concurrency?: number;
  /**
   * Remember the SHA-256 of every file written (and of every file found already there), keyed by
   * path and fingerprint, so that a later run checks a file present with one stat instead of
   * reading it (default true: the upload's cache, `~/.cache/vi/digests.json`; a string names the
   * cache file; see DigestCache).
   */
  digestCache?: boolean | string;
  /** Default: stderr is a terminal. */
  showProgress?: boolean;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** The absolute folder the files went to. */
  saveDir: string;
  downloaded: number;
  /** Already there, with `overwrite: false` (kept, whatever their contents). */
  skipped: number;
  /** Of the skipped files, those whose size or SHA-256 is not the asset's (kept: `overwrite` replaces them). */
  differing: string[];
  failed: { filename: string; reason: string }[];
  /** The size of the files downloaded. */
  bytes: number;
  /** Of `bytes`, those a partial file from an earlier, interrupted run already held (continued with a byte range). */
  resumedBytes: number;
}

export interface DownloadContext {
  http: HttpClient;
  /** Every page of the assets to download (the dataset's, or the selection's), with signed URLs. */
  pages: (signal: AbortSignal) => AsyncIterable<Page<Asset>>;
  /** One asset again with fresh signed URLs, for when the listed one expired. */
  refetch: (assetId: string, signal?: AbortSignal) => Promise<Asset>;
}

/**
 * Why a filename from the server must not be written under saveDir, or undefined when it is
 * safe: it must be a relative `/`-separated path that cannot climb out of the folder.
 */
export function unsafeFilenameReason(filename: string): string | undefined {
  if (filename === "") return "empty filename";
  if (filename.includes("\0")) return "filename contains a NUL byte";
  if (filename.includes("\\")) return "filename contains a backslash";
  if (filename.startsWith("/") || isAbsolute(filename) || /^[A-Za-z]:/.test(filename))
    return "filename is an absolute path";
  const segments = filename.split("/");
  if (segments.includes("..")) return "filename contains a '..' segment";
  if (segments.some((s) => s === "" || s === ".")) return "filename has an empty or '.' segment";
  return undefined;
}

/** `path` is `root` itself or lies below it. */
const within = (root: string, path: string): boolean =>
  path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

const SHA256 = /^sha-?256$/i;

/**
 * Files up to this size are received into memory, verified, then written with one write and
 * renamed into place: nothing unverified touches the disk, and a small file costs few syscalls.
 * Larger ones stream into a `.part` file that an interrupted run leaves for the next to continue.
 */
const IN_MEMORY_MAX = 1024 * 1024;
/** Fresh signed URLs asked for one file at most (they expire mid-run when the listing is old). */
const MAX_REFETCHES = 3;

/** The bytes received do not make the asset (size, SHA-256, range): never renamed into place. */
class IntegrityError extends ViError {}

interface Expected {
  size: number | undefined;
  /** Lower-case hex, when the asset names a SHA-256. */
  sha256: string | undefined;
}

function expectedOf(asset: Asset): Expected {
  const size = asset.metadata.fileSize;
  const { algorithm, contents } = asset.metadata.hash ?? {};
  const named = algorithm !== undefined && SHA256.test(algorithm) && contents !== undefined;
  return {
    size: typeof size === "number" && Number.isSafeInteger(size) && size >= 0 ? size : undefined,
    sha256: named ? contents.toLowerCase() : undefined,
  };
}

function verify(expected: Expected, size: number, sha256: string): void {
  if (expected.size !== undefined && size !== expected.size) {
    throw new IntegrityError(`received ${size} bytes, expected ${expected.size}`, { code: "SizeMismatch" });
  }
  if (expected.sha256 !== undefined && sha256 !== expected.sha256) {
    throw new IntegrityError(`SHA-256 mismatch: got ${sha256}, expected ${expected.sha256}`, {
      code: "ChecksumMismatch",
    });
  }
}

/**
 * Where a file's bytes wait beside it until they are verified. The name carries the start of the
 * expected SHA-256, so that a partial file is only ever continued with bytes of the same contents.
 */
export function partPath(target: string, sha256: string | undefined): string {
  return resolve(dirname(target), `.${basename(target).slice(0, 200)}.${sha256?.slice(0, 16) ?? "unknown"}.part`);
}

async function lstatIfAny(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Both digests of the first `length` bytes of a file, as a hash that the rest can continue. */
async function hashPrefix(path: string, length: number, signal: AbortSignal): Promise<{ sha: Hash; crc: number }> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(length, 1 << 20)));
    const sha = createHash("sha256");
    let crc = 0;
    for (let done = 0; done < length;) {
      signal.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - done), done);
      if (bytesRead === 0)
        throw new IntegrityError(`the partial file shrank while it was read`, { code: "PartChanged" });
      const chunk = buffer.subarray(0, bytesRead);
      sha.update(chunk);
      crc = crc32c(chunk, crc);
      done += bytesRead;
    }
    return { sha, crc };
  } finally {
    await handle.close();
  }
}

/**
 * A small body whole. With a Content-Length (undici holds the body to it) one read; without,
 * chunk by chunk, never past the expected size.
 */
async function readSmall(res: Dispatcher.ResponseData, expected: number | undefined): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (expected !== undefined && res.headers["content-length"] !== undefined && declared !== expected) {
    res.body.destroy();
    throw new IntegrityError(`the server announced ${declared} bytes, expected ${expected}`, { code: "SizeMismatch" });
  }
  if (expected !== undefined && declared === expected) return Buffer.from(await res.body.arrayBuffer());
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (expected !== undefined && size > expected) {
      res.body.destroy();
      throw new IntegrityError(`received more than the ${expected} bytes expected`, { code: "SizeMismatch" });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

interface Fetched {
  digest: FileDigest;
  /** Bytes a partial file already held. */
  resumed: number;
}

/** Downloads every asset of a dataset into saveDir, keeping the filenames' subfolders. */
export async function downloadAssets(ctx: DownloadContext, options: DownloadOptions): Promise<DownloadResult> {
  // Thousands of internal waits listen on one signal of our own, not on the caller's.
  return withLinkedSignal(options.signal, (signal) => downloadAssetsWithin(ctx, options, signal));
}

async function downloadAssetsWithin(
  ctx: DownloadContext,
  options: DownloadOptions,
  signal: AbortSignal,
): Promise<DownloadResult> {
  const { http } = ctx;
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ViValidationError(`concurrency must be a whole number >= 1, got ${concurrency}`, {
      code: "InvalidParameter",
    });
  }
  // A malformed selection fails here, before any folder is made.
  filterText(options.filter);
  queryText(options.metadataQuery);
  const root = resolve(options.saveDir);
  await mkdir(root, { recursive: true });
  // Compared against real paths below, so that a symlinked subfolder cannot lead outside.
  const realRoot = await realpath(root);
  const cache =
    options.digestCache === false
      ? undefined
      : await DigestCache.open(
          typeof options.digestCache === "string" ? options.digestCache : defaultDigestCachePath(),
        );
  const result: DownloadResult = {
    saveDir: root,
    downloaded: 0,
    skipped: 0,
    differing: [],
    failed: [],
    bytes: 0,
    resumedBytes: 0,
  };
  const progress = new Progress({ enabled: options.showProgress });
  const slots = new Semaphore(concurrency);

  /** Each folder is made and checked once per run: does it lie within saveDir once links are followed? */
  const folders = new Map<string, Promise<boolean>>();
  const folderInside = (dir: string): Promise<boolean> => {
    let known = folders.get(dir);
    if (known === undefined) {
      known = mkdir(dir, { recursive: true }).then(async () => within(realRoot, await realpath(dir)));
      folders.set(dir, known);
      // A folder that could not be made is tried again by the next file in it.
      known.catch(() => folders.delete(dir));
    }
    return known;
  };

  /** Whether a file already at `target` is the asset's: its size, then its SHA-256 (remembered, or read once). */
  const isTheAsset = async (target: string, stats: Stats, expected: Expected): Promise<boolean> => {
    if (!stats.isFile()) return false;
    if (expected.size !== undefined && stats.size !== expected.size) return false;
    if (expected.sha256 === undefined) return true;
    const digest =
      cache?.known(target, stats) ?? (cache ? await cache.digest(target, signal) : await digestFile(target, signal));
    return digest.sha256 === expected.sha256;
  };

  /** A small file: received into memory, verified, written once beside its target and renamed. */
  const fetchSmall = (
    url: string,
    headers: Record<string, string> | undefined,
    target: string,
    part: string,
    expected: Expected,
  ): Promise<Fetched> =>
    http.transfer({ method: "GET", url, headers, signal }, async (res) => {
      const data = await readSmall(res, expected.size);
      const digest: FileDigest = {
        size: data.length,
        crc32c: toSigned32(crc32c(data)),
        sha256: createHash("sha256").update(data).digest("hex"),
      };
      verify(expected, data.length, digest.sha256);
      try {
        await writeFile(part, data);
        await rename(part, target);
      } catch (error) {
        await unlink(part).catch(() => undefined);
        throw error;
      }
      progress.update(0, data.length);
      return { digest, resumed: 0 };
    });

  /**
   * A larger file: streamed into its `.part` file, continuing what an earlier run left there with
   * `Range: bytes=N-` and `If-Range: "<sha256>"` (a server whose bytes changed answers 200 with
   * all of them), the digest covering the whole file; renamed into place once verified. A
   * transfer cut short leaves the part for the next attempt or run.
   */
  const fetchLarge = async (
    url: string,
    headers: Record<string, string> | undefined,
    target: string,
    part: string,
    expected: Expected,
  ): Promise<Fetched> => {
    let offset = 0;
    let prefix: { sha: Hash; crc: number } | undefined;
    if (expected.size !== undefined && expected.sha256 !== undefined) {
      const left = await lstatIfAny(part);
      if (left?.isFile() && left.size > 0 && left.size <= expected.size) {
        offset = left.size;
        prefix = await hashPrefix(part, offset, signal);
      }
    }
    if (prefix !== undefined && offset === expected.size) {
      // Whole already (an earlier run stopped before its rename): checked, with no request.
      const digest: FileDigest = { size: offset, crc32c: toSigned32(prefix.crc), sha256: prefix.sha.digest("hex") };
      verify(expected, offset, digest.sha256);
      await rename(part, target);
      progress.update(0, offset);
      return { digest, resumed: offset };
    }
    const rangeHeaders =
      prefix === undefined ? headers : { ...headers, range: `bytes=${offset}-`, "if-range": `"${expected.sha256}"` };
    return http.transfer({ method: "GET", url, headers: rangeHeaders, signal }, async (res) => {
      let start = 0;
      if (res.statusCode === 206) {
        const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""));
        if (
          prefix === undefined ||
          range === null ||
          Number(range[1]) !== offset ||
          Number(range[3]) !== expected.size
        ) {
          res.body.destroy();
          throw new IntegrityError(`the server answered another range (${String(res.headers["content-range"])})`, {
            code: "RangeMismatch",
          });
        }
        start = offset;
      }
      const sha = prefix !== undefined && start > 0 ? prefix.sha.copy() : createHash("sha256");
      let crc = prefix !== undefined && start > 0 ? prefix.crc : 0;
      let size = start;
      let counted = start;
      progress.update(0, start);
      let done = false;
      try {
        // A retried attempt starts again where this one was asked to start.
        const handle = await open(part, constants.O_WRONLY | constants.O_CREAT);
        try {
          await handle.truncate(start);
        } finally {
          await handle.close();
        }
        const meter = new Transform({
          transform(chunk: Buffer, _encoding, next) {
            size += chunk.length;
            if (expected.size !== undefined && size > expected.size) {
              next(
                new IntegrityError(`received more than the ${expected.size} bytes expected`, { code: "SizeMismatch" }),
              );
              return;
            }
            sha.update(chunk);
            crc = crc32c(chunk, crc);
            counted += chunk.length;
            progress.update(0, chunk.length);
            next(null, chunk);
          },
        });
        await pipeline(res.body, meter, createWriteStream(part, { flags: "r+", start }), { signal });
        const digest: FileDigest = { size, crc32c: toSigned32(crc), sha256: sha.digest("hex") };
        verify(expected, size, digest.sha256);
        await rename(part, target);
        done = true;
        return { digest, resumed: start };
      } finally {
        if (!done) progress.update(0, -counted);
      }
    });
  };

  /** One asset's bytes into place: renews an expired URL, and starts afresh once after bytes that did not verify. */
  const fetchAsset = async (asset: Asset, target: string, expected: Expected): Promise<Fetched> => {
    const part = partPath(target, expected.sha256);
    const fetch = expected.size !== undefined && expected.size <= IN_MEMORY_MAX ? fetchSmall : fetchLarge;
    let contents = asset.contents?.asset;
    let refetches = 0;
    let restarted = false;
    for (;;) {
      if (contents === undefined) throw new ViError("the server gave no download URL", { code: "NoContents" });
      // A URL that the listing gave long ago may have expired already: renew it before trying
      // (once: after that the server's 403 decides, whatever this machine's clock says).
      if (refetches === 0 && typeof contents.expiry === "number" && contents.expiry <= Date.now()) {
        refetches++;
        contents = (await ctx.refetch(asset.assetId, signal)).contents?.asset;
        continue;
      }
      try {
        return await fetch(http.resolveUrl(contents.url), contents.headers, target, part, expected);
      } catch (error) {
        if (error instanceof IntegrityError) {
          // Bytes that do not verify are never kept or continued.
          await unlink(part).catch(() => undefined);
          if (!restarted && !signal.aborted) {
            restarted = true;
            continue;
          }
        } else if (error instanceof ViError && error.status === 403 && refetches < MAX_REFETCHES) {
          // An expired signed URL answers 403: ask for a fresh one.
          refetches++;
          contents = (await ctx.refetch(asset.assetId, signal)).contents?.asset;
          continue;
        }
        throw error;
      }
    }
  };

  const downloadOne = async (asset: Asset): Promise<void> => {
    const filename = asset.filename;
    const reason = unsafeFilenameReason(filename);
    const target = resolve(root, filename);
    if (reason !== undefined || target === root || !within(root, target)) {
      result.failed.push({ filename, reason: `refused: ${reason ?? "resolves outside saveDir"}` });
      return;
    }
    try {
      if (!(await folderInside(dirname(target)))) {
        result.failed.push({ filename, reason: "refused: its folder is a link that leads outside saveDir" });
        return;
      }
      const expected = expectedOf(asset);
      const present = await lstatIfAny(target);
      if (present !== undefined && !options.overwrite) {
        if (!(await isTheAsset(target, present, expected))) result.differing.push(filename);
        result.skipped++;
        progress.update(1, asset.metadata.fileSize);
        return;
      }
      const { digest, resumed } = await fetchAsset(asset, target, expected);
      // Not `result.bytes += await ...`: that reads the total before the await and loses
      // the bytes of every download that finished meanwhile.
      result.bytes += digest.size;
      result.resumedBytes += resumed;
      result.downloaded++;
      progress.update(1, 0);
      // Its stat after the rename (which changes ctime), so that the next run reads nothing.
      if (cache !== undefined) cache.remember(target, await lstat(target), digest);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      result.failed.push({ filename, reason: (error as Error).message });
    }
  };

  const inFlight = new Set<Promise<void>>();
  // The bar starts with the first page: its totalCount (when the server sends it) is the number
  // of files; the bytes are known only once every page is listed.
  let listedFiles = 0;
  let listedBytes = 0;
  let started = false;
  try {
    for await (const page of ctx.pages(signal)) {
      listedFiles += page.items.length;
      listedBytes += page.items.reduce((n, a) => n + (a.metadata.fileSize ?? 0), 0);
      const more = page.nextPage !== null && page.nextPage !== undefined;
      const exact = typeof page.totalCount === "number" ? page.totalCount : undefined;
      const totals = {
        files: exact ?? listedFiles,
        atLeast: exact === undefined && more,
        bytes: more ? undefined : listedBytes,
      };
      if (started) progress.setTotals(totals);
      else if (listedFiles > 0) {
        started = true;
        progress.phase("Download", totals);
      }
      for (const asset of page.items) {
        const release = await slots.acquire(signal);
        const task: Promise<void> = downloadOne(asset).finally(() => {
          release();
          inFlight.delete(task);
        });
        // Awaited below; the no-op handler keeps an early rejection from being reported as unhandled meanwhile.
        task.catch(() => undefined);
        inFlight.add(task);
      }
    }
    await Promise.all(inFlight);
  } catch (error) {
    // Let every transfer stop (a cut large transfer keeps its part for the next run) before reporting.
    await Promise.allSettled(inFlight);
    throw error;
  } finally {
    progress.finish();
    // What this run verified is remembered, also when it was interrupted.
    await cache?.save();
  }
  return result;
}
