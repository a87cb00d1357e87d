import { useEffect, useRef, useState } from "react";
import type { Annotation, Asset } from "@vi/protocol";
import { describeError } from "../api/errors.js";
import { ImageViewer } from "../components/ImageViewer.js";
import { AssetFacts } from "../components/AssetFacts.js";
import { CustomMetadataEditor } from "../components/CustomMetadataEditor.js";
import type { AssetPages } from "../hooks/useAssetPages.js";
import { useApi } from "../session.js";

/**
 * One asset over the grid: the image (zoom, pan, frames, annotations drawn over it), its
 * metadata and editable custom metadata. J/K or Alt+arrows go to the next and previous asset of
 * the view, Escape goes back to the grid.
 */
export function AssetDetail(props: {
  datasetId: string;
  assetId: string;
  pages: AssetPages;
  onNavigate(index: number): void;
  onClose(): void;
}) {
  const api = useApi();
  const { datasetId, assetId, pages } = props;
  const [asset, setAsset] = useState<Asset>();
  const [annotations, setAnnotations] = useState<Annotation[]>([]);
  const [error, setError] = useState<string>();
  const ref = useRef<HTMLDialogElement>(null);
  const index = pages.assets.findIndex((a) => a.assetId === assetId);

  useEffect(() => {
    let live = true;
    setError(undefined);
    Promise.all([api.asset(datasetId, assetId), api.annotations(datasetId, assetId)]).then(
      ([a, list]) => {
        if (!live) return;
        setAsset(a);
        setAnnotations(list);
      },
      (err: unknown) => live && setError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [api, datasetId, assetId]);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  useEffect(() => {
    if (index >= 0) pages.ensure(index + 1);
  }, [index, pages]);

  const go = (step: number) => {
    const next = index + step;
    if (index >= 0 && next >= 0 && next < pages.total) props.onNavigate(next);
  };
  const onKeyDown = (e: React.KeyboardEvent) => {
    const target = e.target as HTMLElement;
    if (target.closest("input, textarea, select")) return;
    if (e.key === "j" || (e.altKey && e.key === "ArrowRight")) go(1);
    else if (e.key === "k" || (e.altKey && e.key === "ArrowLeft")) go(-1);
    else return;
    e.preventDefault();
  };

  return (
    <dialog
      ref={ref}
      className="asset-detail"
      aria-labelledby="asset-title"
      onKeyDown={onKeyDown}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header>
        <h2 id="asset-title">{asset?.filename ?? "Loading…"}</h2>
        <span className="position" aria-live="polite">
          {index >= 0 ? `${index + 1} of ${pages.total.toLocaleString()}` : ""}
        </span>
        <button type="button" onClick={() => go(-1)} disabled={index <= 0} aria-keyshortcuts="k Alt+ArrowLeft">
          ← Previous
        </button>
        <button
          type="button"
          onClick={() => go(1)}
          disabled={index < 0 || index >= pages.total - 1}
          aria-keyshortcuts="j Alt+ArrowRight"
        >
          Next →
        </button>
        <button type="button" onClick={props.onClose} aria-keyshortcuts="Escape">
          Close
        </button>
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {asset && asset.assetId === assetId && (
        <div className="detail-body">
          <ImageViewer key={asset.assetId} asset={asset} annotations={annotations} />
          <aside className="detail-side">
            <AssetFacts asset={asset} annotations={annotations} />
            <CustomMetadataEditor
              key={asset.assetId}
              asset={asset}
              onSave={async (patch) => setAsset(await api.updateCustomMetadata(datasetId, assetId, patch))}
            />
          </aside>
        </div>
      )}
    </dialog>
  );
}
