import type { Dirent, Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { ViValidationError } from "../core/errors.js";
import { mapBounded } from "./concurrency.js";

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

const STAT_CONCURRENCY = 32;

const invalid = (message: string, details?: Record<string, unknown>) =>
  new ViValidationError(message, { code: "InvalidParameter", details });

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

/**
 * Every supported image under `root`, recursively. Dot-entries are skipped (they are hidden
 * files and folders such as .git or macOS's ._ twins) and symlinked folders are not followed
 * (they can loop or leave the tree); a symlink to a file is taken like the file.
 */
async function walkFolder(root: string, out: WalkedFile[]): Promise<void> {
  const stack: string[][] = [[]];
  while (stack.length > 0) {
    const segments = stack.pop() as string[];
    const dir = join(root, ...segments);
    const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const visible = entries.filter((e) => !e.name.startsWith("."));
    const candidates = visible.filter(
      (e) => (e.isFile() || e.isSymbolicLink()) && mimeForFilename(e.name) !== undefined,
    );
    // Sizes are looked up in parallel: one stat at a time is what makes walking a big folder slow.
    const sizes = await mapBounded(candidates, STAT_CONCURRENCY, async (entry) => {
      const target = entry.isFile() ? await stat(join(dir, entry.name)) : await statOrUndefined(join(dir, entry.name));
      return target?.isFile() ? target.size : undefined;
    });
    candidates.forEach((entry, i) => {
      const size = sizes[i];
      if (size === undefined) return;
      out.push({
        path: join(dir, entry.name),
        filename: [...segments, entry.name].join("/").normalize("NFC"),
        size,
        root,
      });
    });
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
  const inputs = typeof paths === "string" ? [paths] : [...paths];
  if (inputs.length === 0) throw invalid("paths is empty: name at least one file or folder");

  const stats = await Promise.all(inputs.map(statOrUndefined));
  const missing = inputs.filter((_, i) => stats[i] === undefined);
  if (missing.length > 0) throw invalid(`no such file or folder: ${missing.join(", ")}`, { paths: missing });
  const unsupported = inputs.filter((p, i) => stats[i]?.isFile() && mimeForFilename(p) === undefined);
  if (unsupported.length > 0) {
    throw invalid(
      `not a supported image type: ${unsupported.join(", ")} (supported: ${[...SUPPORTED_EXTENSIONS.keys()].join(" ")})`,
      { paths: unsupported },
    );
  }
  const special = inputs.filter((_, i) => !stats[i]?.isFile() && !stats[i]?.isDirectory());
  if (special.length > 0) throw invalid(`neither a file nor a folder: ${special.join(", ")}`, { paths: special });

  const files: WalkedFile[] = [];
  for (const [i, input] of inputs.entries()) {
    const info = stats[i] as Stats;
    if (info.isFile()) {
      files.push({ path: input, filename: basename(input).normalize("NFC"), size: info.size });
      continue;
    }
    const before = files.length;
    await walkFolder(input, files);
    if (files.length === before) {
      throw invalid(`no supported images under ${input} (supported: ${[...SUPPORTED_EXTENSIONS.keys()].join(" ")})`, {
        paths: [input],
      });
    }
  }
  return dedupe(files);
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
    throw invalid(
      `${clashes.size} filename(s) would be uploaded twice; rename or upload them separately:\n${lines.join("\n")}`,
      {
        duplicates: Object.fromEntries([...clashes].map(([name, set]) => [name, [...set]])),
      },
    );
  }
  return kept;
}
