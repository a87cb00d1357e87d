/**
 * The one syntax tree both selection inputs become. `metadataQuery` text is parsed into it,
 * the `filter` JSON is translated into it, and from it come the SQL (compile.ts) and the
 * in-memory predicate (evaluate.ts). Trees handed out by parseQuery/parseFilter are checked
 * (fields.ts): every field is queryable, every literal has a type its field accepts, and time
 * literals are epoch milliseconds.
 *
 * Shape rules: `and`/`or` have at least two operands; a chain `a and b and c` is one node with
 * three operands, while parentheses keep their own node, so printing and re-parsing a tree gives
 * the same tree.
 */

/** A literal value: JSON strings, finite numbers (never -0) and booleans. */
export type Literal = string | number | boolean;

/** Asset fields with a fixed type and column, by their wire path. */
export const BUILTIN_FIELDS = [
  "assetId",
  "filename",
  "metadata.fileSize",
  "metadata.width",
  "metadata.height",
  "metadata.frames",
  "metadata.mimeType",
  "metadata.status",
  "metadata.uploadStatus",
  "metadata.timeCreated",
  "metadata.lastUpdated",
  "metadata.contentsLastUpdated",
  "metadata.annotations.total",
] as const;
export type BuiltinName = (typeof BUILTIN_FIELDS)[number];

/** What a comparison is about. */
export type Field =
  /** A built-in Asset field (a column of `assets`, or a constant). */
  | { kind: "builtin"; name: BuiltinName }
  /** `metadata.annotations.withTag.<tag>`: how many of the asset's annotations carry `tag` (exact name). */
  | { kind: "tag"; tag: string }
  /** A custom metadata key (exact name); values are strings, numbers or booleans, per asset. */
  | { kind: "custom"; key: string };

export type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=";

export type Expr =
  | { type: "and"; args: Expr[] }
  | { type: "or"; args: Expr[] }
  | { type: "not"; arg: Expr }
  /** `field op value`; `!=` is exactly `not (field == value)`. */
  | { type: "compare"; field: Field; op: CompareOp; value: Literal }
  /** `field in [v, ...]`: any of the values (each taken by its own type); an empty list matches nothing. */
  | { type: "in"; field: Field; values: Literal[] }
  /** `field startsWith "prefix"`: string values only. */
  | { type: "startsWith"; field: Field; value: string }
  /** `field contains "part"`: string values only. */
  | { type: "contains"; field: Field; value: string }
  /** `exists(field)`: a custom key is present; a tag count is above zero; any other built-in is always there. */
  | { type: "exists"; field: Field };

export type LeafExpr = Extract<Expr, { field: Field }>;

/** Conjunction of any number of trees (nested `and`s flattened): undefined for none, the tree itself for one. */
export function allOf(parts: (Expr | undefined)[]): Expr | undefined {
  const args = parts.flatMap((p) => (p === undefined ? [] : p.type === "and" ? p.args : [p]));
  if (args.length <= 1) return args[0];
  return { type: "and", args };
}

/** Limits of one tree, whichever input it came from. */
export const LIMITS = {
  /** Nodes on the longest path from the root to a comparison (and nested parentheses or `not` in the text). */
  depth: 64,
  /** Nodes in the whole tree. */
  nodes: 1000,
  /** Values of one `in` list (and ids of the filter's `assetIds`). */
  listItems: 1000,
} as const;

/** The top-level fields of an Asset on the wire; a bare name that is none of them is a custom key. */
export const TOP_LEVEL_FIELDS = new Set([
  "kind",
  "assetId",
  "datasetId",
  "workspaceId",
  "filename",
  "owner",
  "selfLink",
  "etag",
  "metadata",
  "contents",
]);
