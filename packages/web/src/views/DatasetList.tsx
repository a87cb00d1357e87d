import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link } from "wouter";
import type { Dataset } from "@vi/protocol";
import { describeError } from "../api/errors.js";
import type { ViApi } from "../api/client.js";
import { ConfirmDialog } from "../components/ConfirmDialog.js";
import { useApi } from "../session.js";

interface StatusCounts {
  processing: number;
  error: number;
}

/** How many of a dataset's assets are still processing, and how many are in error. */
async function statusCounts(api: ViApi, datasetId: string): Promise<StatusCounts> {
  const count = async (filter: Record<string, unknown>) =>
    (await api.listAssets(datasetId, { filter }, { size: 1, count: true })).totalCount ?? 0;
  const [processing, error] = await Promise.all([count({ uploadStatus: "processing" }), count({ status: "error" })]);
  return { processing, error };
}

/** The organization's datasets with their counts; create one, delete one (after confirming). */
export function DatasetList() {
  const api = useApi();
  const [datasets, setDatasets] = useState<Dataset[]>();
  const [counts, setCounts] = useState<Record<string, StatusCounts>>({});
  const [error, setError] = useState<string>();
  const [name, setName] = useState("");
  const [deleting, setDeleting] = useState<Dataset>();
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(async () => {
    try {
      const list = await api.datasets();
      setDatasets(list);
      const entries = await Promise.all(list.map(async (d) => [d.datasetId, await statusCounts(api, d.datasetId)]));
      setCounts(Object.fromEntries(entries));
    } catch (err) {
      setError(describeError(err));
    }
  }, [api]);
  useEffect(() => void refresh(), [refresh]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await api.createDataset(name.trim());
      setName("");
      setError(undefined);
      await refresh();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (dataset: Dataset) => {
    setBusy(true);
    try {
      await api.deleteDataset(dataset.datasetId);
      setDeleting(undefined);
      await refresh();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="datasets">
      <h1>Datasets</h1>
      <form className="create-dataset" onSubmit={create}>
        <label htmlFor="new-dataset">New dataset</label>
        <input id="new-dataset" required value={name} onChange={(e) => setName(e.target.value)} placeholder="Name" />
        <button type="submit" className="primary" disabled={busy || name.trim() === ""}>
          Create
        </button>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {!datasets ? (
        <p aria-live="polite">Loading…</p>
      ) : datasets.length === 0 ? (
        <p>No dataset yet: create one above, then drop images on it.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Datasets and their asset counts</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Assets</th>
              <th scope="col">Annotated</th>
              <th scope="col">Processing</th>
              <th scope="col">In error</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {datasets.map((d) => (
              <tr key={d.datasetId}>
                <th scope="row">
                  <Link href={`/datasets/${encodeURIComponent(d.datasetId)}`}>{d.name}</Link>
                </th>
                <td>{d.statistic.assetTotal.toLocaleString()}</td>
                <td>{d.statistic.assetAnnotated.toLocaleString()}</td>
                <td>{counts[d.datasetId]?.processing.toLocaleString() ?? "…"}</td>
                <td>{counts[d.datasetId]?.error.toLocaleString() ?? "…"}</td>
                <td>
                  <button type="button" className="danger" onClick={() => setDeleting(d)}>
                    Delete<span className="visually-hidden"> {d.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete the dataset “${deleting.name}”?`}
          confirmLabel="Delete dataset"
          busy={busy}
          onConfirm={() => void remove(deleting)}
          onCancel={() => setDeleting(undefined)}
        >
          <p>
            Its {deleting.statistic.assetTotal.toLocaleString()} assets, their files and annotations are deleted for
            good.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
