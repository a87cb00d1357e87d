import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, Route, useLocation } from "wouter";
import type { Dataset } from "@vi/protocol";
import { ApiError, describeError } from "../api/errors.js";
import { AssetGrid } from "../components/AssetGrid.js";
import { BulkActions } from "../components/BulkActions.js";
import { QueryBar } from "../components/QueryBar.js";
import { UploadPanel } from "../components/UploadPanel.js";
import { allSelected, emptySelection, someSelected, type Selection } from "../components/selection.js";
import { useAssetPages } from "../hooks/useAssetPages.js";
import { useProcessingWatch } from "../hooks/useProcessingWatch.js";
import { toAssetQuery, useViewState, viewSearch } from "../hooks/useViewState.js";
import { useApi } from "../session.js";
import { AssetDetail } from "./AssetDetail.js";

/** A dataset: its query bar, the grid of what the query selects, upload, selection, and one asset over it. */
export function DatasetView({ datasetId }: { datasetId: string }) {
  const api = useApi();
  const [view, setView] = useViewState();
  const query = useMemo(() => toAssetQuery(view), [view]);
  const pages = useAssetPages(api, datasetId, query);
  useProcessingWatch(api, datasetId, pages);
  const [dataset, setDataset] = useState<Dataset>();
  const [error, setError] = useState<string>();
  const [selection, setSelection] = useState<Selection>(emptySelection);
  const [anchor, setAnchor] = useState<number>();
  const [focusIndex, setFocusIndex] = useState(0);
  const [, navigate] = useLocation();

  const refreshDataset = useCallback(
    () => api.dataset(datasetId).then(setDataset, (err: unknown) => setError(describeError(err))),
    [api, datasetId],
  );
  useEffect(() => void refreshDataset(), [refreshDataset]);
  useEffect(() => {
    setSelection(emptySelection());
    setFocusIndex(0);
  }, [query]);

  const select = useCallback(
    (index: number, opts: { shiftKey: boolean }) => {
      const asset = pages.assets[index];
      if (!asset) return;
      setSelection((current) => {
        const ids = new Set(current.all ? pages.assets.map((a) => a.assetId) : current.ids);
        if (opts.shiftKey && anchor !== undefined) {
          const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
          for (let i = from; i <= to; i++) {
            const a = pages.assets[i];
            if (a) ids.add(a.assetId);
          }
        } else if (ids.has(asset.assetId)) ids.delete(asset.assetId);
        else ids.add(asset.assetId);
        return someSelected(ids);
      });
      setAnchor(index);
      setFocusIndex(index);
    },
    [pages.assets, anchor],
  );
  const open = useCallback(
    (index: number) => {
      const asset = pages.assets[index];
      if (!asset) return;
      setFocusIndex(index);
      navigate(`/assets/${encodeURIComponent(asset.assetId)}${viewSearch(view)}`);
    },
    [pages.assets, navigate, view],
  );
  const refresh = () => {
    pages.reload();
    setSelection(emptySelection());
    void refreshDataset();
  };

  return (
    <section className="dataset-view">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="~/datasets">Datasets</Link> / <span aria-current="page">{dataset?.name ?? datasetId}</span>
      </nav>
      <h1>{dataset?.name ?? datasetId}</h1>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <p className="counts" aria-live="polite" data-testid="view-count">
        {pages.error
          ? "The query could not run"
          : `${pages.exact ? pages.total.toLocaleString() : `${pages.total.toLocaleString()}+`} assets${view.q ? " match the query" : ""}`}
        {dataset ? ` · ${dataset.statistic.assetTotal.toLocaleString()} in the dataset` : ""}
        {dataset ? ` · ${dataset.statistic.assetAnnotated.toLocaleString()} annotated` : ""}
      </p>
      <QueryBar view={view} error={pages.error} onChange={setView} />
      {pages.error && !(pages.error instanceof ApiError && pages.error.status === 400) && (
        <p role="alert" className="error">
          {describeError(pages.error)}
        </p>
      )}
      <div className="dataset-body">
        <div className="grid-column">
          <BulkActions
            api={api}
            datasetId={datasetId}
            query={view.q}
            selection={selection}
            total={pages.total}
            onSelectAll={() => setSelection(allSelected())}
            onClear={() => setSelection(emptySelection())}
            onDeleted={refresh}
          />
          <AssetGrid
            pages={pages}
            selection={selection}
            onSelect={select}
            onSelectAll={() => setSelection(allSelected())}
            onOpen={open}
            focusIndex={focusIndex}
            onFocusIndex={setFocusIndex}
          />
        </div>
        <UploadPanel api={api} datasetId={datasetId} onUploaded={refresh} />
      </div>
      <Route path="/assets/:assetId">
        {(params) => (
          <AssetDetail
            datasetId={datasetId}
            assetId={params.assetId}
            pages={pages}
            onNavigate={(index) => open(index)}
            onClose={() => navigate(`/${viewSearch(view)}`)}
          />
        )}
      </Route>
    </section>
  );
}
