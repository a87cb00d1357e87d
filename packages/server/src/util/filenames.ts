/**
 * The rules for client-supplied asset filenames. A filename is a relative path inside a
 * dataset (`cats/001.jpg`); it is stored and shown, and never becomes a storage path.
 */
export const MAX_FILENAME_LENGTH = 1024;
const MAX_SEGMENT_LENGTH = 255;

export type FilenameCheck = { ok: true; filename: string } | { ok: false; reason: string };

export function normalizeFilename(raw: string): FilenameCheck {
  if (typeof raw !== "string" || raw.length === 0) return { ok: false, reason: "filename is empty" };
  if (raw.includes("\\")) return { ok: false, reason: "filename contains a backslash; use / between folders" };
  // C0 and C1 controls, DEL, and the Unicode line/paragraph separators.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(raw))
    return { ok: false, reason: "filename contains a control character" };
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(raw))
    return { ok: false, reason: "filename contains an unpaired surrogate, which no stored text can hold" };
  const filename = raw.normalize("NFC");
  if (filename.startsWith("/")) return { ok: false, reason: "filename is an absolute path" };
  if (/^[A-Za-z]:/.test(filename)) return { ok: false, reason: "filename starts with a drive letter" };
  if (filename.length > MAX_FILENAME_LENGTH)
    return { ok: false, reason: `filename is longer than ${MAX_FILENAME_LENGTH} characters` };
  const segments = filename.split("/");
  for (const s of segments) {
    if (s === "") return { ok: false, reason: "filename has an empty path segment" };
    if (s === "." || s === "..") return { ok: false, reason: `filename has a '${s}' segment` };
    if (s.length > MAX_SEGMENT_LENGTH)
      return { ok: false, reason: `a path segment is longer than ${MAX_SEGMENT_LENGTH} characters` };
  }
  return { ok: true, filename };
}

/** The last segment, which download URLs end in. */
export const basename = (filename: string): string => filename.slice(filename.lastIndexOf("/") + 1);
