import { useState, type FormEvent } from "react";
import type { Asset } from "@vi/protocol";
import { describeError } from "../api/errors.js";

type Value = string | number | boolean;
type ValueType = "string" | "number" | "boolean";
interface Row {
  key: string;
  type: ValueType;
  text: string;
}

const typeOf = (v: Value): ValueType =>
  typeof v === "number" ? "number" : typeof v === "boolean" ? "boolean" : "string";

function parse(row: Row): Value {
  if (row.type === "number") {
    const n = Number(row.text);
    if (row.text.trim() === "" || !Number.isFinite(n)) throw new Error(`“${row.key}” is not a number: ${row.text}`);
    return n;
  }
  if (row.type === "boolean") return row.text === "true";
  return row.text;
}

/**
 * Custom metadata, editable: each key keeps its JSON type (string, number, boolean). Saving
 * sends a merge patch: changed and new keys with their values, removed keys as null.
 */
export function CustomMetadataEditor(props: {
  asset: Asset;
  onSave(patch: Record<string, Value | null>): Promise<void>;
}) {
  const original = props.asset.metadata.customMetadata;
  const [rows, setRows] = useState<Row[]>(() =>
    Object.entries(original).map(([key, v]) => ({ key, type: typeOf(v), text: String(v) })),
  );
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  const update = (i: number, change: Partial<Row>) => {
    setSaved(false);
    setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...change } : r)));
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const patch: Record<string, Value | null> = {};
      const kept = new Set<string>();
      for (const row of rows) {
        const key = row.key.trim();
        if (!key) continue;
        if (kept.has(key)) throw new Error(`The key “${key}” is there twice.`);
        kept.add(key);
        const value = parse(row);
        if (original[key] !== value) patch[key] = value;
      }
      for (const key of Object.keys(original)) if (!kept.has(key)) patch[key] = null;
      if (Object.keys(patch).length === 0) return setSaved(true);
      setBusy(true);
      await props.onSave(patch);
      setSaved(true);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="custom-metadata" onSubmit={submit} aria-labelledby="custom-title">
      <h3 id="custom-title">Custom metadata</h3>
      {rows.length === 0 && <p>None yet.</p>}
      {rows.map((row, i) => (
        <fieldset key={i} className="metadata-row">
          <legend className="visually-hidden">Entry {i + 1}</legend>
          <input
            aria-label={`Key ${i + 1}`}
            value={row.key}
            onChange={(e) => update(i, { key: e.target.value })}
            placeholder="key"
          />
          <select
            aria-label={`Type of ${row.key || `key ${i + 1}`}`}
            value={row.type}
            onChange={(e) =>
              update(i, { type: e.target.value as ValueType, text: e.target.value === "boolean" ? "true" : row.text })
            }
          >
            <option value="string">text</option>
            <option value="number">number</option>
            <option value="boolean">yes/no</option>
          </select>
          {row.type === "boolean" ? (
            <select
              aria-label={`Value of ${row.key}`}
              value={row.text}
              onChange={(e) => update(i, { text: e.target.value })}
            >
              <option value="true">true</option>
              <option value="false">false</option>
            </select>
          ) : (
            <input
              aria-label={`Value of ${row.key || `key ${i + 1}`}`}
              value={row.text}
              inputMode={row.type === "number" ? "decimal" : undefined}
              onChange={(e) => update(i, { text: e.target.value })}
            />
          )}
          <button
            type="button"
            aria-label={`Remove ${row.key || `entry ${i + 1}`}`}
            onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))}
          >
            ×
          </button>
        </fieldset>
      ))}
      <div className="actions">
        <button type="button" onClick={() => setRows((rs) => [...rs, { key: "", type: "string", text: "" }])}>
          Add a key
        </button>
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
        <span role="status">{saved ? "Saved." : ""}</span>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
