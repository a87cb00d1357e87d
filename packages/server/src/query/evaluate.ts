import type { BuiltinName, CompareOp, Expr, Field, Literal } from "./ast.js";
import { compareCodePoints, fold } from "./strings.js";

/** What the evaluator knows of an asset: the queryable fields, by their meaning. */
export interface QueryableAsset {
  assetId: string;
  filename: string;
  fileSize: number;
  mimeType: string;
  width: number;
  height: number;
  frames: number;
  status: string;
  uploadStatus: string;
  createdAt: number;
  updatedAt: number;
  contentsUpdatedAt: number;
  annotationTotal: number;
  /** Annotation count per tag name; absent tags count 0. */
  annotationTags: Record<string, number>;
  customMetadata: Record<string, string | number | boolean>;
}

/**
 * Does `asset` satisfy the checked tree `expr`? The reference semantics that the SQL of
 * compile.ts reproduces (the property tests hold the two to each other):
 * two-valued logic, type-strict custom keys, code point order, folding unless `strict`.
 */
export function matches(expr: Expr, asset: QueryableAsset, options: { strict: boolean }): boolean {
  switch (expr.type) {
    case "and":
      return expr.args.every((a) => matches(a, asset, options));
    case "or":
      return expr.args.some((a) => matches(a, asset, options));
    case "not":
      return !matches(expr.arg, asset, options);
    case "exists":
      if (expr.field.kind === "custom") return Object.hasOwn(asset.customMetadata, expr.field.key);
      if (expr.field.kind === "tag") return tagCount(asset, expr.field.tag) > 0;
      return true;
    default:
      return test(expr, valueOf(expr.field, asset), options.strict);
  }
}

/** A comparison applied to one value of its field (undefined: an absent custom key). */
export function test(expr: TestExpr, value: Literal | undefined, strict: boolean): boolean {
  if (value === undefined) return expr.type === "compare" && expr.op === "!=";
  const norm = normalizer(expr.field, strict);
  switch (expr.type) {
    case "compare":
      return compare(value, expr.op, expr.value, norm);
    case "in":
      return expr.values.some((v) => compare(value, "==", v, norm));
    case "startsWith":
      return typeof value === "string" && norm(value).startsWith(norm(expr.value));
    case "contains":
      return typeof value === "string" && norm(value).includes(norm(expr.value));
  }
}

export type TestExpr = Extract<Expr, { type: "compare" | "in" | "startsWith" | "contains" }>;

/** `a op b`, true only for values of the same type; `!=` is the negation of `==`. */
export function compare(a: Literal, op: CompareOp, b: Literal, norm: (s: string) => string = same): boolean {
  if (op === "!=") return !compare(a, "==", b, norm);
  if (typeof a !== typeof b) return false;
  let order: number;
  if (typeof a === "string") order = compareCodePoints(norm(a), norm(b as string));
  else if (typeof a === "number") order = a < (b as number) ? -1 : a > (b as number) ? 1 : 0;
  else if (op === "==") return a === b;
  else return false;
  switch (op) {
    case "==":
      return order === 0;
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
  }
}

const same = (s: string) => s;

/** How a field's strings are compared: folded unless strict; asset ids always exactly. */
export function normalizer(field: Field, strict: boolean): (s: string) => string {
  return strict || (field.kind === "builtin" && field.name === "assetId") ? same : fold;
}

/** The value of a field for an asset; undefined for an absent custom key. */
function valueOf(field: Field, asset: QueryableAsset): Literal | undefined {
  if (field.kind === "custom")
    return Object.hasOwn(asset.customMetadata, field.key) ? asset.customMetadata[field.key] : undefined;
  if (field.kind === "tag") return tagCount(asset, field.tag);
  return builtinValue(field.name, asset);
}

const tagCount = (asset: QueryableAsset, tag: string) =>
  Object.hasOwn(asset.annotationTags, tag) ? (asset.annotationTags[tag] as number) : 0;

function builtinValue(name: BuiltinName, a: QueryableAsset): string | number {
  switch (name) {
    case "assetId":
      return a.assetId;
    case "filename":
      return a.filename;
    case "metadata.fileSize":
      return a.fileSize;
    case "metadata.width":
      return a.width;
    case "metadata.height":
      return a.height;
    case "metadata.frames":
      return a.frames;
    case "metadata.mimeType":
      return a.mimeType;
    case "metadata.status":
      return a.status;
    case "metadata.uploadStatus":
      return a.uploadStatus;
    case "metadata.timeCreated":
      return a.createdAt;
    case "metadata.lastUpdated":
      return a.updatedAt;
    case "metadata.contentsLastUpdated":
      return a.contentsUpdatedAt;
    case "metadata.annotations.total":
      return a.annotationTotal;
  }
}
