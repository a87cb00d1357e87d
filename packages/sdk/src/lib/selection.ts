import { ViValidationError } from "../core/errors.js";

/**
 * Which assets of a dataset a call is about: the listing's `filter` and `metadataQuery`. Both
 * given select the assets that match both.
 */
export interface AssetSelection {
  /**
   * A filter object (sent as JSON) or its JSON text, e.g. `{ status: "uploaded" }`,
   * `{ mimeType: ["image/png", "image/gif"], width: { gte: 640 } }`, `{ filename: { prefix: "cats/" } }`,
   * `{ hasTag: "car" }`, `{ customMetadata: { camera: ["a", "b"], score: { gte: 0.8 } } }`.
   */
  filter?: Record<string, unknown> | string;
  /** An expression, e.g. `custom_field == "value"`, `camera in ["a", "b"] and score >= 0.8`, `not exists(reviewed)`. */
  metadataQuery?: string;
  /** Match case-sensitively (the server's `strictQuery`); the default is case-insensitive. */
  strictQuery?: boolean;
}

const invalid = (message: string, parameter: string) =>
  new ViValidationError(message, { code: "InvalidParameter", details: { parameter } });

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The filter as the wire's JSON text, or undefined for none. A string must be the JSON of an
 * object: a typo fails here, before any request, rather than as a 400 or, worse, a match-all.
 */
export function filterText(filter: AssetSelection["filter"]): string | undefined {
  if (filter === undefined || filter === null) return undefined;
  if (typeof filter === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(filter);
    } catch (cause) {
      throw new ViValidationError(`filter is not valid JSON: ${(cause as Error).message}`, {
        code: "InvalidParameter",
        details: { parameter: "filter" },
        cause,
      });
    }
    if (!isPlainObject(parsed))
      throw invalid(`filter must be the JSON of an object, got ${filter.slice(0, 80)}`, "filter");
    return filter;
  }
  if (!isPlainObject(filter)) throw invalid("filter must be an object or the JSON text of one", "filter");
  return JSON.stringify(filter);
}

/** The metadata query, or undefined for none (an empty or blank string is none). */
export function queryText(query: AssetSelection["metadataQuery"]): string | undefined {
  if (query === undefined || query === null) return undefined;
  if (typeof query !== "string") throw invalid("metadataQuery must be a string", "metadataQuery");
  return query.trim() === "" ? undefined : query;
}

/** Whether the filter selects by anything: undefined, `{}` and `"{}"` select nothing explicitly. */
export function filterSelects(filter: AssetSelection["filter"]): boolean {
  const text = filterText(filter);
  return text !== undefined && Object.keys(JSON.parse(text) as object).length > 0;
}
