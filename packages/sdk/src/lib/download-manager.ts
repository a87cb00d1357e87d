import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { lstat, mkdir, realpath, rename, unlink } from "node:fs/promises";
import { basename, dirname, isAbsolute, resolve, sep } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Asset } from "@vi/protocol";
import { ViError, ViValidationError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import type { Page } from "../core/pagination.js";
import { Semaphore, withLinkedSignal } from "./concurrency.js";
import { Progress } from "./progress.js";
import { filterText, queryText, type AssetSelection } from "./selection.js";

/** `filter`, `metadataQuery` and `strictQuery` download only the selection (as `assets.list` selects). */
export interface DownloadOptions extends AssetSelection {
  datasetId: string;
  saveDir: string;
  /** Replace files already in saveDir (default false: they are skipped). */
  overwrite?: boolean;
  /** Files in flight (default 8). */
  concurrency?: number;
  /** Default: stderr is a terminal. */
  showProgress?: boolean;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** The absolute folder the files went to. */
  saveDir: string;
  downloaded: number;
  /** Already there, with `overwrite: false`. */
  skipped: number;
  failed: { filename: string; reason: string }[];
  bytes: number;
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

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

const SHA256 = /^sha-?256$/i;

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
  const concurrency = options.concurrency ?? 8;
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
  const result: DownloadResult = { saveDir: root, downloaded: 0, skipped: 0, failed: [], bytes: 0 };
  const progress = new Progress({ enabled: options.showProgress });
  const slots = new Semaphore(concurrency);

  /** Streams one URL into a temp file beside the target, verifies it, then renames it into place. */
  const fetchTo = (
    asset: Asset,
    url: string,
    headers: Record<string, string> | undefined,
    target: string,
  ): Promise<number> =>
    http.transfer({ method: "GET", url: http.resolveUrl(url), headers, signal }, async (res) => {
      const temp = resolve(
        dirname(target),
        `.${basename(target).slice(0, 200)}.part-${randomBytes(6).toString("hex")}`,
      );
      const sha = createHash("sha256");
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          sha.update(chunk);
          size += chunk.length;
          progress.update(0, chunk.length);
          done(null, chunk);
        },
      });
      let renamed = false;
      try {
        await pipeline(res.body, meter, createWriteStream(temp, { flags: "wx" }), { signal });
        const expected = asset.metadata.fileSize;
        if (typeof expected === "number" && size !== expected) {
          throw new ViError(`received ${size} bytes, expected ${expected}`, { code: "SizeMismatch" });
        }
        const { algorithm, contents } = asset.metadata.hash ?? {};
        if (algorithm !== undefined && SHA256.test(algorithm) && contents !== undefined) {
          const got = sha.digest("hex");
          if (got !== contents.toLowerCase()) {
            throw new ViError(`SHA-256 mismatch: got ${got}, expected ${contents}`, { code: "ChecksumMismatch" });
          }
        }
        await rename(temp, target);
        renamed = true;
        return size;
      } finally {
        // A failed attempt takes back what it counted, and never leaves its temp file.
        if (!renamed) {
          progress.update(0, -size);
          await unlink(temp).catch(() => undefined);
        }
      }
    });

  const downloadOne = async (asset: Asset): Promise<void> => {
    const filename = asset.filename;
    const reason = unsafeFilenameReason(filename);
    const target = resolve(root, filename);
    if (reason !== undefined || target === root || !within(root, target)) {
      result.failed.push({ filename, reason: `refused: ${reason ?? "resolves outside saveDir"}` });
      return;
    }
    if (!options.overwrite && (await exists(target))) {
      result.skipped++;
      progress.update(1, asset.metadata.fileSize);
      return;
    }
    try {
      await mkdir(dirname(target), { recursive: true });
      if (!within(realRoot, await realpath(dirname(target)))) {
        result.failed.push({ filename, reason: "refused: its folder is a link that leads outside saveDir" });
        return;
      }
      let contents = asset.contents?.asset;
      let refreshed = false;
      for (;;) {
        if (contents === undefined) throw new ViError("the server gave no download URL", { code: "NoContents" });
        try {
          // Not `result.bytes += await ...`: that reads the total before the await and loses
          // the bytes of every download that finished meanwhile.
          const received = await fetchTo(asset, contents.url, contents.headers, target);
          result.bytes += received;
          break;
        } catch (error) {
          // An expired signed URL answers 403: ask for a fresh one, once.
          if (refreshed || !(error instanceof ViError) || error.status !== 403) throw error;
          refreshed = true;
          contents = (await ctx.refetch(asset.assetId, signal)).contents?.asset;
        }
      }
      result.downloaded++;
      progress.update(1, 0);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
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
    // Let every transfer stop and delete its temp file before reporting.
    await Promise.allSettled(inFlight);
    throw error;
  } finally {
    progress.finish();
  }
  return result;
}
