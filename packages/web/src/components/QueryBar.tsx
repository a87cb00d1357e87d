import { useEffect, useState, type FormEvent } from "react";
import { SORT_CRITERIA, type AssetSortCriterion } from "@vi/protocol";
import { ApiError } from "../api/errors.js";
import type { ViewState } from "../hooks/useViewState.js";
import { clauseValue, withClause } from "./query-clauses.js";

const SORT_LABELS: Record<AssetSortCriterion, string> = {
  default: "Upload order",
  assetId: "Asset id",
  filename: "Filename",
  "lastModified.contents": "Last modified",
  "metadata.fileSize": "File size",
  "metadata.width": "Width",
  "metadata.height": "Height",
  "metadata.timeCreated": "Time created",
};

const FORMATS = [
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/bmp",
  "image/tiff",
  "image/heic",
  "image/jp2",
];

/** The search bar (the query language of the SDK and CLI), its error at its position, sort and filters. */
export function QueryBar(props: { view: ViewState; error: unknown; onChange(next: Partial<ViewState>): void }) {
  const { view, onChange } = props;
  const [draft, setDraft] = useState(view.q);
  useEffect(() => setDraft(view.q), [view.q]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onChange({ q: draft.trim() });
  };
  const queryError = props.error instanceof ApiError && props.error.status === 400 ? props.error : undefined;

  return (
    <form className="query-bar" role="search" onSubmit={submit}>
      <div className="query-input">
        <label htmlFor="query" className="visually-hidden">
          Query
        </label>
        <input
          id="query"
          type="search"
          spellCheck={false}
          placeholder='e.g. camera in ["a", "b"] and metadata.width > 1000'
          value={draft}
          aria-invalid={queryError ? true : undefined}
          aria-describedby={queryError ? "query-error" : undefined}
          onChange={(e) => setDraft(e.target.value)}
        />
        <button type="submit" className="primary">
          Search
        </button>
      </div>
      {queryError && <QueryError error={queryError} query={view.q} />}
      <div className="query-controls">
        <label>
          Sort by{" "}
          <select value={view.sort} onChange={(e) => onChange({ sort: e.target.value as AssetSortCriterion })}>
            {SORT_CRITERIA.map((s) => (
              <option key={s} value={s}>
                {SORT_LABELS[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Order{" "}
          <select value={view.order} onChange={(e) => onChange({ order: e.target.value === "desc" ? "desc" : "asc" })}>
            <option value="asc">Ascending</option>
            <option value="desc">Descending</option>
          </select>
        </label>
        <ClauseSelect label="Status" field="metadata.status" options={["uploaded", "error"]} {...props} />
        <ClauseSelect
          label="Processing"
          field="metadata.uploadStatus"
          options={["processing", "completed"]}
          {...props}
        />
        <ClauseSelect label="Format" field="metadata.mimeType" options={FORMATS} {...props} />
      </div>
    </form>
  );
}

function ClauseSelect(props: {
  label: string;
  field: string;
  options: string[];
  view: ViewState;
  onChange(next: Partial<ViewState>): void;
}) {
  const value = clauseValue(props.view.q, props.field) ?? "";
  return (
    <label>
      {props.label}{" "}
      <select
        value={value}
        onChange={(e) => props.onChange({ q: withClause(props.view.q, props.field, e.target.value) })}
      >
        <option value="">any</option>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The server's query error, with a caret under the character where it went wrong. */
function QueryError({ error, query }: { error: ApiError; query: string }) {
  const at = error.parameter === "metadataQuery" && error.position !== undefined ? error.position : undefined;
  return (
    <div id="query-error" className="query-error" role="alert">
      <p>{error.message}</p>
      {at !== undefined && (
        <pre aria-label={`at character ${at + 1}`}>
          {query.slice(0, at)}
          <mark>{query.slice(at, at + 1) || " "}</mark>
          {query.slice(at + 1)}
          {"\n"}
          {" ".repeat(at)}^
        </pre>
      )}
    </div>
  );
}
