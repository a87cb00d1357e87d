import { open as openFile } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  BATCH_UPLOAD_CONTENT_TYPE,
  FILE_ERROR_CODES,
  type BatchUploadResult,
  type BatchUploadTarget,
} from "@vi/protocol";
import { ViError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import type { FileDigest } from "./checksum.js";
import type { Semaphore } from "./concurrency.js";
import type { WalkedFile } from "./walk.js";

/**
 * Small files several to a request, when the server offers its [ext] batch upload
 * (`status.batchUpload`): one read per file, one PUT of frames (4-byte big-endian file index,
 * 4-byte big-endian size, the bytes) per group, and each file's outcome back on its own.
 */

/** Files in one group at most, */
export const GROUP_FILES = 64;
/** and bytes. Groups this size keep every PUT slot busy without long requests. */
export const GROUP_BYTES = 8 * 1024 * 1024;
/** Groups in flight at most (within `concurrency`): 512 files, 64 MiB held by the server at most. */
export const GROUPS_IN_FLIGHT = 8;

export interface GroupItem {
  file: WalkedFile;
  digest: FileDigest;
  /** The file's position in its session's manifest. */
  fileIndex: number;
}

/** What sending a group needs from the upload that runs it. */
export interface GroupSender {
  http: HttpClient;
  signal: AbortSignal;
  /** All PUTs in flight (a group takes one slot), */
  puts: Semaphore;
  /** and groups in flight. */
  groups: Semaphore;
  /** FailAfterOne stops starting new sends at the first failure. */
  stopped(): boolean;
  failed(file: WalkedFile, code: string, reason: string): void;
  sent(item: GroupItem): void;
}

/** Sends one group; a request that fails fails the files it carried, each with the PUT's code. */
export async function putGroup(s: GroupSender, group: GroupItem[], target: BatchUploadTarget): Promise<void> {
  const releaseGroup = await s.groups.acquire(s.signal);
  const release = await s.puts.acquire(s.signal).catch((error: unknown) => {
    releaseGroup();
    throw error;
  });
  try {
    if (s.stopped()) return;
    const frames: Buffer[] = [];
    const carried: GroupItem[] = [];
    for (const item of group) {
      try {
        const bytes = await readHashedBytes(item.file.path, item.digest.size);
        frames.push(frameHead(item.fileIndex, bytes.length), bytes);
        carried.push(item);
      } catch (error) {
        s.failed(item.file, "ENOASSET", (error as Error).message);
      }
    }
    if (carried.length === 0) return;
    const length = frames.reduce((n, b) => n + b.length, 0);
    let answer: BatchUploadResult;
    try {
      answer = await s.http.transfer(
        {
          method: "PUT",
          url: s.http.resolveUrl(target.url),
          headers: { "content-type": BATCH_UPLOAD_CONTENT_TYPE, "content-length": String(length) },
          body: () => Readable.from(frames),
          signal: s.signal,
        },
        async (res) => (await res.body.json()) as BatchUploadResult,
      );
    } catch (error) {
      if (s.signal.aborted) throw s.signal.reason;
      const viError = error instanceof ViError ? error : undefined;
      for (const item of carried) {
        const code = viError ? fileCodeForPutError(viError, item.file.filename) : "ENOASSET";
        s.failed(item.file, code, (error as Error).message);
      }
      return;
    }
    const outcomes = new Map(answer.files.map((f) => [f.fileIndex, f]));
    for (const item of carried) {
      const outcome = outcomes.get(item.fileIndex);
      if (outcome?.assetId !== undefined) {
        s.sent(item);
        continue;
      }
      const code = outcome?.error?.code ?? "EUNKNOWN";
      const known = isFileErrorCode(code) ? code : code === "ResourceConflict" ? "EALREADY" : "EUNKNOWN";
      s.failed(item.file, known, outcome?.error?.message ?? "the server did not answer for this file");
    }
  } finally {
    release();
    releaseGroup();
  }
}

const isFileErrorCode = (code: unknown): code is string =>
  typeof code === "string" && (FILE_ERROR_CODES as readonly string[]).includes(code);

/** A wire file error code for a PUT the upload target refused: the body's own code when it names one. */
export function fileCodeForPutError(error: ViError, filename: string): string {
  const details = error.details ?? {};
  const files = details.files as Record<string, unknown> | undefined;
  for (const candidate of [details.code, details.fileErrorCode, files?.[filename], error.code]) {
    if (isFileErrorCode(candidate)) return candidate;
  }
  if (error.status === 413) return "EBADSIZE";
  if (error.status === 507) return "ENOQUOTA";
  if (error.status === 403) return "ETIMEOUT";
  if (error.status === 409) return "EALREADY";
  if (error.code === "InvalidFileFormat") return "EBADMIME";
  if (error.status === undefined) return "ENOASSET";
  return "EUNKNOWN";
}

/** A file's frame in a batch body: 4-byte big-endian file index, 4-byte big-endian size. */
function frameHead(fileIndex: number, size: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(fileIndex, 0);
  head.writeUInt32BE(size, 4);
  return head;
}

/** Exactly the first `size` bytes of a file, as hashed; a file that shrank since fails. */
async function readHashedBytes(path: string, size: number): Promise<Buffer> {
  const file = await openFile(path, "r");
  try {
    const bytes = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await file.read(bytes, at, size - at, at);
      if (bytesRead === 0) throw new Error(`${path} is shorter than when it was hashed (${at} of ${size} bytes)`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}
