import type { IngestionErrorEvent, IngestionFileSpec, UploadTarget } from "@vi/protocol";
import type { ViApi } from "./client.js";
import { crc32cOfFile } from "./crc32c.js";
import { describeError } from "./errors.js";

/** One file to upload, named by its path inside the dropped folder (`cats/001.jpg`). */
export interface UploadFile {
  filename: string;
  file: File;
}

export type FileState =
  | { state: "waiting" }
  | { state: "sending"; sent: number }
  | { state: "done"; deduplicated?: boolean }
  | { state: "error"; code: string; message: string };

export interface UploadProgress {
  files: { filename: string; size: number; status: FileState }[];
  finished: boolean;
}

/** Files per ingestion session; the server takes up to 10,000 in one manifest. */
const SESSION_FILES = 1000;
const PARALLEL_PUTS = 4;

/**
 * Uploads files through ingestion sessions (FailAfterAll: every file is tried, and each one's
 * error code is reported), one PUT per file to its signed URL. `onProgress` gets a fresh
 * snapshot whenever a file moves on.
 */
export async function uploadFiles(
  api: ViApi,
  datasetId: string,
  files: UploadFile[],
  onProgress: (progress: UploadProgress) => void,
): Promise<UploadProgress> {
  const progress: UploadProgress = {
    files: files.map((f) => ({ filename: f.filename, size: f.file.size, status: { state: "waiting" } })),
    finished: false,
  };
  const report = () => onProgress({ files: progress.files.map((f) => ({ ...f })), finished: progress.finished });
  const setState = (index: number, status: FileState) => {
    progress.files[index]!.status = status;
    report();
  };
  report();
  for (let start = 0; start < files.length; start += SESSION_FILES) {
    const batch = files.slice(start, start + SESSION_FILES);
    try {
      await uploadSession(api, datasetId, batch, (i, status) => setState(start + i, status));
    } catch (err) {
      batch.forEach((_, i) => {
        if (progress.files[start + i]!.status.state !== "done")
          setState(start + i, { state: "error", code: "ESESSION", message: describeError(err) });
      });
    }
  }
  progress.finished = true;
  report();
  return progress;
}

async function uploadSession(
  api: ViApi,
  datasetId: string,
  files: UploadFile[],
  setState: (index: number, status: FileState) => void,
): Promise<void> {
  const assets: IngestionFileSpec[] = [];
  for (const f of files) {
    assets.push({
      filename: f.filename,
      size: f.file.size,
      crc32c: await crc32cOfFile(f.file),
      kind: "Image",
      ...(f.file.type ? { mime: f.file.type } : {}),
    });
  }
  const session = await api.openIngestionSession(datasetId, { kind: "Upload", failureMode: "FailAfterAll", assets });
  const sessionId = session.assetIngestionSessionId;
  const indexOf = new Map(files.map((f, i) => [f.filename, i]));
  const targets = session.status.assets.flatMap((a) => {
    const index = indexOf.get(a.metadata.filename);
    return index === undefined || !a.upload ? [] : [{ index, upload: a.upload as UploadTarget }];
  });
  const expecting = new Set(targets.map((t) => t.index));
  const putFailed = new Set<number>();
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const { index, upload } = targets[next++]!;
      setState(index, { state: "sending", sent: 0 });
      const file = files[index]!.file;
      const failure = await putFile(upload, file, (sent) => setState(index, { state: "sending", sent }));
      // A 2xx only says the store (the server, or a bucket) took the bytes: the session's verdict
      // below says whether the file was committed.
      if (failure) putFailed.add(index);
      setState(index, failure ?? { state: "sending", sent: file.size });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_PUTS }, worker));

  // The session's verdict (long-polled: with a bucket, the server commits each file when it sees
  // the object): error events name each failed file with its code.
  let status = await api.ingestionStatus(datasetId, sessionId, 60);
  while (!status.status.conditions.some((c) => c.condition === "Finished" && c.status !== "Waiting")) {
    status = await api.ingestionStatus(datasetId, sessionId, 60);
  }
  const failed = new Map<string, { code: string; message: string }>();
  for (const event of status.status.events) {
    if (event.kind !== "Error") continue;
    const error = event as IngestionErrorEvent;
    for (const [filename, code] of Object.entries(error.files)) {
      failed.set(filename, { code, message: error.messages?.[filename] ?? code });
    }
  }
  files.forEach((f, i) => {
    const error = failed.get(f.filename);
    if (error) setState(i, { state: "error", ...error });
    else if (!expecting.has(i)) setState(i, { state: "done", deduplicated: true });
    else if (!putFailed.has(i)) setState(i, { state: "done" });
  });
}

/** One PUT of a file's bytes, with upload progress (fetch has none, so XMLHttpRequest). */
function putFile(target: UploadTarget, file: File, onSent: (bytes: number) => void): Promise<FileState | undefined> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", target.url);
    for (const [name, value] of Object.entries(target.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(undefined);
      let code = `HTTP${xhr.status}`;
      let message = xhr.statusText;
      try {
        const body = JSON.parse(xhr.responseText) as { message?: string; details?: { fileError?: string } };
        code = body.details?.fileError ?? code;
        message = body.message ?? message;
      } catch {
        // not JSON: keep the status
      }
      resolve({ state: "error", code, message });
    };
    xhr.onerror = () => resolve({ state: "error", code: "ENETWORK", message: "The upload was cut (network error)." });
    xhr.send(file);
  });
}
