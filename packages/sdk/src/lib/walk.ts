import type { Dirent, Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { ViValidationError } from "../core/errors.js";
import { mapBounded } from "./concurrency.js";
import { METADATA_SIDECAR } from "./custom-metadata.js";

/** The extensions the Python guide lists, and the MIME type each is declared with. */
export const SUPPORTED_EXTENSIONS: ReadonlyMap<string, string> = new Map([
  [".jpg", "image/jpeg"],
  [".jpeg", "image/jpeg"],
  [".jfif", "image/jpeg"],
  [".png", "image/png"],
  [".tif", "image/tiff"],
  [".tiff", "image/tiff"],
  [".bmp", "image/bmp"],
  [".webp", "image/webp"],
  [".heif", "image/heif"],
  [".heic", "image/heic"],
  [".avif", "image/avif"],
  [".jp2", "image/jp2"],
  [".j2k", "image/jp2"],
  [".gif", "image/gif"],
]);

/** The MIME type a filename declares, or undefined when its extension is not supported. */
export function mimeForFilename(name: string): string | undefined {
  return SUPPORTED_EXTENSIONS.get(extname(name).toLowerCase());
}

export interface WalkedFile {
  /** Where to read it: the path given, joined with its place under a folder. */
  path: string;
  /** Its name in the dataset: relative to the folder given, `/`-separated, NFC; a file given by itself keeps its basename. */
  filename: string;
  size: number;
  /** The folder given that the file was found under; undefined for a file given by itself. */
  root?: string;
}

/** A file under an uploaded folder that the upload leaves out, and why. */
export interface SkippedFile {
  /** Where it is: the folder given, joined with its place under it. */
  path: string;
  /** Why it is not uploaded, e.g. `unsupported type .svg`. */
  reason: string;
}

/** What walking the upload's paths found: the files to upload, and those left out. */
export interface WalkResult {
  files: WalkedFile[];
  /**
   * Files under the folders given that are not uploaded: not a supported image type, a link to a
   * folder (not followed), a broken link, a special file, a `vi-metadata.json` below a folder's
   * root (only the root's is read). Hidden entries (dot-files, dot-folders) are not listed, and
   * the sidecar at a folder's root is not a skipped file.
   */
  skipped: SkippedFile[];
}

const STAT_CONCURRENCY = 32;

const invalid = (message: string, details?: Record<string, unknown>) =>
  new ViValidationError(message, { code: "InvalidParameter", details });

/**
 * The codes of the refusals of an upload's own paths, found before any request (the caller's
 * arguments are wrong, not the server): `ViValidationError` with no `status` and one of these.
 */
export const LOCAL_PATH_ERROR_CODES = [
  "PathNotFound",
  "UnsupportedFileType",
  "NotAFileOrFolder",
  "NoImagesFound",
  "DuplicateFilename",
] as const;
export type LocalPathErrorCode = (typeof LOCAL_PATH_ERROR_CODES)[number];

const SUPPORTED = [...SUPPORTED_EXTENSIONS.keys()].join(" ");

const refused = (code: LocalPathErrorCode, message: string, suggestion: string, details: Record<string, unknown>) =>
  new ViValidationError(message, { code, suggestion, details });

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

/** Why a file found under a folder is left out, from its name alone, or undefined when it is an image to upload. */
function skipReasonForName(name: string, atRoot: boolean): string | undefined {
  if (name === METADATA_SIDECAR) {
    // The root's sidecar is read (or replaced by metadataFile); a deeper one never is.
    return atRoot ? undefined : `a ${METADATA_SIDECAR} below the uploaded folder's root is not read`;
  }
  if (mimeForFilename(name) !== undefined) return undefined;
  const ext = extname(name);
  return ext === "" ? "unsupported type (no extension)" : `unsupported type ${ext.toLowerCase()}`;
}

/** `3 files: unsupported type .svg (2), a broken link (1)`: how many files were left out, and why. */
export function describeSkipped(skipped: readonly SkippedFile[], maxReasons = 5): string {
  const byReason = new Map<string, number>();
  for (const { reason } of skipped) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  const reasons = [...byReason].map(([reason, n]) => `${reason} (${n})`);
  const more = reasons.length > maxReasons ? `, and ${reasons.length - maxReasons} more reason(s)` : "";
  return `${skipped.length} ${skipped.length === 1 ? "file" : "files"}: ${reasons.slice(0, maxReasons).join(", ")}${more}`;
}

/**
 * Every supported image under `root`, recursively. Dot-entries are skipped (they are hidden
 * files and folders such as .git or macOS's ._ twins) and symlinked folders are not followed
 * (they can loop or leave the tree); a symlink to a file is taken like the file. Every other
 * file left out is reported in `skipped`, with why.
 */
async function walkFolder(root: string, out: WalkedFile[], skipped: SkippedFile[]): Promise<void> {
  const stack: string[][] = [[]];
  while (stack.length > 0) {
    const segments = stack.pop() as string[];
    const dir = join(root, ...segments);
    const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const visible = entries.filter((e) => !e.name.startsWith("."));
    const atRoot = segments.length === 0;
    // Regular files that are images, and every link (what it leads to decides).
    const candidates = visible.filter(
      (e) => e.isSymbolicLink() || (e.isFile() && skipReasonForName(e.name, atRoot) === undefined),
    );
    // Sizes are looked up in parallel: one stat at a time is what makes walking a big folder slow.
    const targets = await mapBounded(candidates, STAT_CONCURRENCY, (entry) =>
      entry.isFile() ? stat(join(dir, entry.name)) : statOrUndefined(join(dir, entry.name)),
    );
    const found = new Map(candidates.map((entry, i) => [entry, targets[i]]));
    for (const entry of visible) {
      if (entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      const target = found.get(entry);
      let reason: string | undefined;
      if (entry.isSymbolicLink()) {
        if (target === undefined) reason = "a broken link";
        else if (target.isDirectory()) reason = "a link to a folder (not followed)";
        else if (!target.isFile()) reason = "not a regular file";
        else reason = skipReasonForName(entry.name, atRoot);
      } else if (!entry.isFile()) {
        reason = "not a regular file";
      } else {
        reason = skipReasonForName(entry.name, atRoot);
      }
      if (reason !== undefined) {
        skipped.push({ path, reason });
      } else if (target !== undefined && mimeForFilename(entry.name) !== undefined) {
        out.push({ path, filename: [...segments, entry.name].join("/").normalize("NFC"), size: target.size, root });
      }
      // Left: the sidecar at the root, which is read, not uploaded.
    }
    const subfolders = visible.filter((e) => e.isDirectory()).map((e) => [...segments, e.name]);
    // Reversed so that the stack pops folders in name order.
    stack.push(...subfolders.reverse());
  }
}

/**
 * Expands `paths` (files, folders, or both) into the files to upload, refusing before any
 * request: a path that does not exist, a file named explicitly whose extension is not
 * supported, a folder with no supported image, and two files that would get the same filename.
 */
export async function walkPaths(paths: string | readonly string[]): Promise<WalkedFile[]> {
  return (await walk(paths)).files;
}

/** walkPaths, with the files under the folders given that are left out (see WalkResult.skipped). */
export async function walk(paths: string | readonly string[]): Promise<WalkResult> {
  const inputs = typeof paths === "string" ? [paths] : [...paths];
  if (inputs.length === 0) throw invalid("paths is empty: name at least one file or folder");

  const stats = await Promise.all(inputs.map(statOrUndefined));
  const missing = inputs.filter((_, i) => stats[i] === undefined);
  if (missing.length > 0) {
    throw refused(
      "PathNotFound",
      `no such file or folder: ${missing.join(", ")}`,
      `check the path: a relative path is taken from the current folder, ${process.cwd()}`,
      { paths: missing },
    );
  }
  const unsupported = inputs.filter((p, i) => stats[i]?.isFile() && mimeForFilename(p) === undefined);
  if (unsupported.length > 0) {
    throw refused(
      "UnsupportedFileType",
      `not a supported image type: ${unsupported.join(", ")} (supported: ${SUPPORTED})`,
      "name image files, or a folder (its other files are skipped and reported)",
      { paths: unsupported },
    );
  }
  const special = inputs.filter((_, i) => !stats[i]?.isFile() && !stats[i]?.isDirectory());
  if (special.length > 0) {
    throw refused(
      "NotAFileOrFolder",
      `neither a file nor a folder: ${special.join(", ")}`,
      "name image files or folders of them",
      { paths: special },
    );
  }

  const files: WalkedFile[] = [];
  const skipped: SkippedFile[] = [];
  for (const [i, input] of inputs.entries()) {
    const info = stats[i] as Stats;
    if (info.isFile()) {
      files.push({ path: input, filename: basename(input).normalize("NFC"), size: info.size });
      continue;
    }
    const before = files.length;
    const skippedBefore = skipped.length;
    await walkFolder(input, files, skipped);
    if (files.length === before) {
      const left = skipped.slice(skippedBefore);
      const seen = left.length === 0 ? "" : `; found only: ${describeSkipped(left)}`;
      throw refused(
        "NoImagesFound",
        `no supported images under ${input} (supported: ${SUPPORTED})${seen}`,
        "check that this is the folder you meant: hidden files (a name starting with '.') are not uploaded",
        { paths: [input], skipped: left.slice(0, 100) },
      );
    }
  }
  return { files: dedupe(files), skipped };
}

/** The same file reached twice (a folder and a file in it) is kept once; two files under one name are refused. */
function dedupe(files: WalkedFile[]): WalkedFile[] {
  const byName = new Map<string, WalkedFile>();
  const clashes = new Map<string, Set<string>>();
  const kept: WalkedFile[] = [];
  for (const file of files) {
    const seen = byName.get(file.filename);
    if (seen === undefined) {
      byName.set(file.filename, file);
      kept.push(file);
    } else if (resolve(seen.path) !== resolve(file.path)) {
      const set = clashes.get(file.filename) ?? new Set([seen.path]);
      set.add(file.path);
      clashes.set(file.filename, set);
    }
  }
  if (clashes.size > 0) {
    const lines = [...clashes].slice(0, 20).map(([name, set]) => `  ${name}: ${[...set].join(", ")}`);
    if (clashes.size > 20) lines.push(`  ... and ${clashes.size - 20} more`);
    throw refused(
      "DuplicateFilename",
      `${clashes.size} filename(s) would be uploaded twice; rename or upload them separately:\n${lines.join("\n")}`,
      "a file's asset filename is its path relative to the folder given: upload such folders in separate runs",
      { duplicates: Object.fromEntries([...clashes].map(([name, set]) => [name, [...set]])) },
    );
  }
  return kept;
}
