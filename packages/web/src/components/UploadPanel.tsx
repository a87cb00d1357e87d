import { useRef, useState, type DragEvent } from "react";
import type { ViApi } from "../api/client.js";
import { uploadFiles, type UploadFile, type UploadProgress } from "../api/upload.js";
import { filesOfDrop } from "./dropped-files.js";
import { formatBytes } from "./format.js";

/**
 * Upload by drag and drop (files and folders) or by choosing files or a folder, through
 * ingestion sessions: progress per file and overall, and each failed file's error code.
 */
export function UploadPanel(props: { api: ViApi; datasetId: string; onUploaded(): void }) {
  const [progress, setProgress] = useState<UploadProgress>();
  const [over, setOver] = useState(false);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const busy = progress !== undefined && !progress.finished;

  const start = async (files: UploadFile[]) => {
    if (files.length === 0 || busy) return;
    await uploadFiles(props.api, props.datasetId, files, setProgress);
    props.onUploaded();
  };
  const fromInput = (input: HTMLInputElement | null) => {
    const files = Array.from(input?.files ?? []).map((file) => ({
      filename: file.webkitRelativePath || file.name,
      file,
    }));
    if (input) input.value = "";
    void start(files);
  };
  const onDrop = async (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    void start(await filesOfDrop(event.dataTransfer));
  };

  return (
    <section
      className={`upload${over ? " drag-over" : ""}`}
      aria-labelledby="upload-title"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => void onDrop(e)}
      data-testid="drop-zone"
    >
      <h2 id="upload-title">Upload</h2>
      <p>Drop image files or folders here, or</p>
      <div className="upload-buttons">
        <button type="button" disabled={busy} onClick={() => filesInput.current?.click()}>
          Choose files
        </button>
        <button type="button" disabled={busy} onClick={() => folderInput.current?.click()}>
          Choose a folder
        </button>
      </div>
      <input
        ref={filesInput}
        type="file"
        multiple
        accept="image/*,.heic,.heif,.jp2,.j2k,.jfif,.tif,.tiff"
        hidden
        data-testid="file-input"
        onChange={(e) => fromInput(e.currentTarget)}
      />
      <input
        ref={folderInput}
        type="file"
        hidden
        data-testid="folder-input"
        {...{ webkitdirectory: "", directory: "" }}
        onChange={(e) => fromInput(e.currentTarget)}
      />
      {progress && <UploadReport progress={progress} />}
    </section>
  );
}

function UploadReport({ progress }: { progress: UploadProgress }) {
  const total = progress.files.reduce((n, f) => n + f.size, 0);
  const sent = progress.files.reduce(
    (n, f) => n + (f.status.state === "done" ? f.size : f.status.state === "sending" ? f.status.sent : 0),
    0,
  );
  const done = progress.files.filter((f) => f.status.state === "done").length;
  const failed = progress.files.filter((f) => f.status.state === "error");
  return (
    <div className="upload-report">
      <p aria-live="polite" data-testid="upload-summary">
        {progress.finished ? "Finished: " : "Uploading: "}
        {done} of {progress.files.length} uploaded
        {failed.length > 0 ? `, ${failed.length} failed` : ""} ({formatBytes(sent)} of {formatBytes(total)})
      </p>
      <progress max={Math.max(total, 1)} value={sent} aria-label="Overall upload progress" />
      <ul className="upload-files" tabIndex={0} aria-label="Files of the upload">
        {progress.files.map((f) => (
          <li key={f.filename} data-state={f.status.state}>
            <span className="name">{f.filename}</span>
            {f.status.state === "sending" ? (
              <progress max={Math.max(f.size, 1)} value={f.status.sent} aria-label={`Progress of ${f.filename}`} />
            ) : f.status.state === "error" ? (
              <span className="error">
                <code>{f.status.code}</code> {f.status.message}
              </span>
            ) : (
              <span>{f.status.state === "done" ? (f.status.deduplicated ? "already stored" : "done") : "waiting"}</span>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
