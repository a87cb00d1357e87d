import { useState } from "react";
import type { BulkDeleteSpec } from "@vi/protocol";
import type { ViApi } from "../api/client.js";
import { describeError } from "../api/errors.js";
import { ConfirmDialog } from "./ConfirmDialog.js";
import type { Selection } from "./selection.js";

/** The selection's actions: select all matching, clear, download, and bulk delete (dry run first). */
export function BulkActions(props: {
  api: ViApi;
  datasetId: string;
  query: string;
  selection: Selection;
  total: number;
  onSelectAll(): void;
  onClear(): void;
  onDeleted(): void;
}) {
  const { api, datasetId, selection } = props;
  const [dryRun, setDryRun] = useState<{ spec: BulkDeleteSpec; count: number }>();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string>();
  const count = selection.all ? props.total : selection.ids.size;

  /** The spec of the selection: its ids, or the view's query (with none, every asset). */
  const spec = (): BulkDeleteSpec => {
    if (!selection.all) return { filter: { assetIds: [...selection.ids] } };
    return { metadataQuery: props.query.trim() || "metadata.fileSize >= 0" };
  };
  const askToDelete = async () => {
    setBusy(true);
    setMessage(undefined);
    try {
      const s = spec();
      const session = await api.bulkDelete(datasetId, { ...s, dryRun: true });
      setDryRun({ spec: s, count: session.status.selected });
    } catch (err) {
      setMessage(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const confirmDelete = async () => {
    if (!dryRun) return;
    setBusy(true);
    try {
      let session = await api.bulkDelete(datasetId, dryRun.spec);
      while (!session.status.conditions.every((c) => c.status !== "Waiting")) {
        session = await api.bulkDeleteStatus(datasetId, session.deleteManyAssetsSessionId, 30);
      }
      setMessage(`Deleted ${session.status.deleted.toLocaleString()} assets.`);
      setDryRun(undefined);
      props.onDeleted();
    } catch (err) {
      setMessage(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const download = async () => {
    setBusy(true);
    try {
      // Each file comes from its signed URL (Content-Disposition names it): one download per asset.
      for (const assetId of selection.ids) {
        const asset = await api.asset(datasetId, assetId);
        const url = asset.contents?.asset?.url;
        if (!url) continue;
        const link = document.createElement("a");
        link.href = url;
        link.download = asset.filename.split("/").pop() ?? asset.filename;
        link.click();
      }
    } catch (err) {
      setMessage(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="bulk-actions" role="toolbar" aria-label="Selection">
      <span aria-live="polite" data-testid="selection-count">
        {selection.all ? `All ${count.toLocaleString()} matching selected` : `${count.toLocaleString()} selected`}
      </span>
      <button type="button" onClick={props.onSelectAll} disabled={props.total === 0}>
        Select all matching
      </button>
      <button type="button" onClick={props.onClear} disabled={count === 0}>
        Clear selection
      </button>
      <button type="button" onClick={() => void download()} disabled={busy || selection.all || count === 0}>
        Download
      </button>
      <button type="button" className="danger" onClick={() => void askToDelete()} disabled={busy || count === 0}>
        Delete…
      </button>
      {message && (
        <span role="status" className="bulk-message">
          {message}
        </span>
      )}
      {dryRun && (
        <ConfirmDialog
          title="Delete the selected assets?"
          confirmLabel={`Delete ${dryRun.count.toLocaleString()} assets`}
          busy={busy}
          confirmDisabled={dryRun.count === 0}
          onConfirm={() => void confirmDelete()}
          onCancel={() => setDryRun(undefined)}
        >
          <p data-testid="dry-run-count">
            A dry run counted <strong>{dryRun.count.toLocaleString()}</strong> assets to delete, with their files and
            annotations. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
