import { readFile } from "node:fs/promises";
import { CUSTOM_METADATA_LIMITS, type CustomMetadata } from "@vi/protocol";
import { ViValidationError } from "../core/errors.js";

/** One custom metadata value: a string, a finite number or a boolean (kept as that JSON type). */
export type CustomMetadataValue = string | number | boolean;

/**
 * A merge patch of custom metadata: a value sets its key, `null` removes it. Protocol has the
 * schema (`CustomMetadataPatch`) but no type for it, hence this one.
 */
export type CustomMetadataPatch = Record<string, CustomMetadataValue | null>;

/** What a per-file `customMetadata` function is told about each file. */
export interface UploadFileInfo {
  /** Where the file is read from (as given, joined with its place under a folder). */
  path: string;
  /** Its asset filename: relative to the folder given, `/`-separated (a file given by itself: its basename). */
  filename: string;
}

/** `customMetadata` of an upload: the same object for every file, or a function asked per file. */
export type UploadCustomMetadata = CustomMetadata | ((file: UploadFileInfo) => CustomMetadata | undefined);

/** The sidecar an uploaded folder may hold at its root, read unless `metadataFile` is given (never uploaded). */
export const METADATA_SIDECAR = "vi-metadata.json";

const invalid = (message: string, details?: Record<string, unknown>) =>
  new ViValidationError(message, { code: "InvalidParameter", details });

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return String(value);
  if (typeof value === "object") return "an object";
  return typeof value;
}

/** The problem with one value, or undefined when it is a string, a finite number or a boolean (or an allowed null). */
export function valueProblem(value: unknown, allowNull: boolean): string | undefined {
  if (value === null) return allowNull ? undefined : "null is not a value (it removes a key only in an update merge)";
  if (typeof value === "string") {
    return value.length > CUSTOM_METADATA_LIMITS.maxStringLength
      ? `a string of ${value.length} characters is over the limit of ${CUSTOM_METADATA_LIMITS.maxStringLength}`
      : undefined;
  }
  if (typeof value === "boolean") return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return undefined;
  return `must be a string, a finite number or a boolean${allowNull ? " (or null to remove it)" : ""}, got ${describe(value)}`;
}

export interface CheckOptions {
  /** Names the metadata in errors, e.g. `customMetadata` or `vi-metadata.json, entry "a.jpg"`. */
  where: string;
  /** Accept `null` values (a merge patch). */
  allowNull?: boolean;
  /** Check the number of keys against the per-asset limit (not for a merge patch, whose result the server knows). */
  countKeys?: boolean;
}

/**
 * Refuses, with a ViValidationError naming `where` and the key, custom metadata that the server
 * would refuse: not an object, a key outside 1..128 characters, a value that is not a string,
 * finite number or boolean (or null when allowed), a string over 1024 characters, over 64 keys.
 */
export function checkCustomMetadata(metadata: unknown, options: CheckOptions): asserts metadata is CustomMetadataPatch {
  const { where } = options;
  if (!isPlainObject(metadata)) throw invalid(`${where} must be an object of key: value, got ${describe(metadata)}`);
  const entries = Object.entries(metadata);
  const { maxKeys, maxKeyLength } = CUSTOM_METADATA_LIMITS;
  if (options.countKeys && entries.length > maxKeys) {
    throw invalid(`${where} has ${entries.length} keys, over the limit of ${maxKeys} per asset`, {
      keys: entries.length,
    });
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > maxKeyLength) {
      throw invalid(
        `${where}: a key must be 1 to ${maxKeyLength} characters, got ${key.length} ("${key.slice(0, 40)}")`,
        {
          key,
        },
      );
    }
    const problem = valueProblem(value, options.allowNull ?? false);
    if (problem !== undefined) throw invalid(`${where}.${key}: ${problem}`, { key });
  }
}

/** A sidecar's entries by asset filename, and the file they came from (for errors). */
export interface Sidecar {
  path: string;
  entries: Map<string, CustomMetadataPatch>;
}

/** Sidecar keys name asset filenames: `/`-separated and NFC, as the upload names files; a leading `./` is dropped. */
export function sidecarKey(name: string): string {
  return name.replace(/^(\.\/)+/, "").normalize("NFC");
}

/**
 * Reads a metadata sidecar: a JSON object mapping each file's asset filename (the relative path
 * the upload gives it) to an object of custom metadata. A `null` value in an entry removes that
 * key from what `customMetadata` gives the file. Errors name the sidecar and the entry.
 */
export async function readSidecar(path: string): Promise<Sidecar> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    const why = missing ? "it does not exist" : (cause as Error).message;
    throw new ViValidationError(`cannot read the metadata file ${path}: ${why}`, {
      code: missing ? "PathNotFound" : "InvalidParameter",
      suggestion: missing
        ? `check the path: a relative path is taken from the current folder, ${process.cwd()}`
        : undefined,
      details: { metadataFile: path },
      cause,
    });
  }
  return parseSidecar(text, path);
}

/** Parses a sidecar's text (see readSidecar). */
export function parseSidecar(text: string, path: string): Sidecar {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (cause) {
    throw new ViValidationError(`the metadata file ${path} is not valid JSON: ${(cause as Error).message}`, {
      code: "InvalidParameter",
      details: { metadataFile: path },
      cause,
    });
  }
  if (!isPlainObject(parsed)) {
    throw invalid(
      `the metadata file ${path} must be a JSON object of {"<asset filename>": {key: value}}, got ${describe(parsed)}`,
      { metadataFile: path },
    );
  }
  const entries = new Map<string, CustomMetadataPatch>();
  for (const [name, metadata] of Object.entries(parsed)) {
    const key = sidecarKey(name);
    const where = `the metadata file ${path}, entry "${name}"`;
    if (entries.has(key))
      throw invalid(`${where}: names the same file as another entry`, { metadataFile: path, entry: name });
    checkCustomMetadata(metadata, { where, allowNull: true });
    entries.set(key, metadata);
  }
  return { path, entries };
}

/** `base` with `overlay` merged over it: a value sets its key, null removes it. */
export function mergeMetadata(
  base: CustomMetadata | undefined,
  overlay: CustomMetadataPatch | undefined,
): CustomMetadata {
  const out: CustomMetadata = { ...(base ?? {}) };
  for (const [key, value] of Object.entries(overlay ?? {})) {
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}

/** A file of the upload, as far as its metadata goes. */
export interface MetadataFile extends UploadFileInfo {
  /** The sidecar that applies to it, if any. */
  sidecar?: Sidecar | undefined;
}

/** A sidecar entry that named no file of the upload: reported, not applied. */
export interface UnmatchedMetadataEntry {
  /** The sidecar it is in. */
  metadataFile: string;
  /** The entry's key (an asset filename, `./` dropped, NFC). */
  entry: string;
}

/** What resolveFileMetadata found: each file's metadata, and the sidecar entries no file matched. */
export interface ResolvedFileMetadata {
  /** By filename: the metadata to send, or null for none. */
  metadata: Map<string, CustomMetadata | null>;
  /** In sidecar order; the upload goes on without them (a file deleted, or a subset uploaded). */
  unmatched: UnmatchedMetadataEntry[];
}

/**
 * The custom metadata of each file, by filename: `customMetadata` (the object, or what the
 * function returns for the file), with the file's sidecar entry merged over it; null for a file
 * with none. Everything is checked before any request, errors naming the file and where its
 * metadata came from. A sidecar entry that names no file of the upload is not an error (the
 * file may have been deleted, or only some of the folder uploaded): it is returned in
 * `unmatched`, for the result to report.
 */
export function resolveFileMetadata(
  files: readonly MetadataFile[],
  customMetadata: UploadCustomMetadata | undefined,
): ResolvedFileMetadata {
  if (customMetadata !== undefined && typeof customMetadata !== "function") {
    checkCustomMetadata(customMetadata, { where: "customMetadata", countKeys: true });
  }
  const out = new Map<string, CustomMetadata | null>();
  const used = new Map<Sidecar, Set<string>>();
  for (const file of files) {
    let base: CustomMetadata | undefined;
    if (typeof customMetadata === "function") {
      const given = customMetadata({ path: file.path, filename: file.filename });
      if (given !== undefined && given !== null) {
        checkCustomMetadata(given, { where: `customMetadata(${JSON.stringify(file.filename)})`, countKeys: true });
        base = given as CustomMetadata;
      }
    } else {
      base = customMetadata;
    }
    const entry = file.sidecar?.entries.get(file.filename);
    if (file.sidecar !== undefined && entry !== undefined) {
      let names = used.get(file.sidecar);
      if (names === undefined) used.set(file.sidecar, (names = new Set()));
      names.add(file.filename);
    }
    const merged = entry === undefined ? base : mergeMetadata(base, entry);
    if (merged !== undefined && entry !== undefined) {
      checkCustomMetadata(merged, {
        where: `the metadata of ${file.filename} (with the metadata file ${file.sidecar?.path}, entry "${file.filename}")`,
        countKeys: true,
      });
    }
    out.set(file.filename, merged === undefined || Object.keys(merged).length === 0 ? null : merged);
  }
  const unmatched: UnmatchedMetadataEntry[] = [];
  const sidecars = new Set(files.flatMap((f) => (f.sidecar ? [f.sidecar] : [])));
  for (const sidecar of sidecars) {
    const names = used.get(sidecar) ?? new Set<string>();
    for (const name of sidecar.entries.keys())
      if (!names.has(name)) unmatched.push({ metadataFile: sidecar.path, entry: name });
  }
  return { metadata: out, unmatched };
}
