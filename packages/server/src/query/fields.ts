import {
  BUILTIN_FIELDS,
  LIMITS,
  TOP_LEVEL_FIELDS,
  type BuiltinName,
  type Expr,
  type Field,
  type Literal,
} from "./ast.js";
import { QueryError, type QueryParameter } from "./errors.js";
import { printField, printLiteral } from "./print.js";

/**
 * Field resolution (a written path to a Field) and the type check of whole trees. The compiler
 * and the evaluator only ever see trees that passed `checkExpr`.
 */

/** How a field's values compare: `time` is a number of epoch milliseconds that also takes ISO-8601 strings. */
export type FieldType = "string" | "number" | "time" | "custom";

const BUILTIN_TYPES: Record<BuiltinName, Exclude<FieldType, "custom">> = {
  assetId: "string",
  filename: "string",
  "metadata.fileSize": "number",
  "metadata.width": "number",
  "metadata.height": "number",
  "metadata.frames": "number",
  "metadata.mimeType": "string",
  "metadata.status": "string",
  "metadata.uploadStatus": "string",
  "metadata.timeCreated": "time",
  "metadata.lastUpdated": "time",
  "metadata.contentsLastUpdated": "time",
  "metadata.annotations.total": "number",
};

export function fieldType(field: Field): FieldType {
  if (field.kind === "builtin") return BUILTIN_TYPES[field.name];
  return field.kind === "tag" ? "number" : "custom";
}

const QUERYABLE_METADATA = [
  ...BUILTIN_FIELDS.filter((f) => f.startsWith("metadata.")),
  "metadata.annotations.withTag.<tag>",
  "metadata.customMetadata.<key>",
].join(", ");

/**
 * The field a path names. `segments` are the parts as written (bare, backticked or `["..."]`);
 * parts after `metadata.customMetadata.` or `metadata.annotations.withTag.` are joined with dots
 * into one key or tag name. A first part that is no top-level Asset field makes the whole path a
 * custom key (`camera`, `a.b`).
 */
export function resolveField(segments: string[], parameter: QueryParameter, position?: number): Field {
  const path = segments.join(".");
  const where = position !== undefined ? ` at position ${position}` : "";
  const fail = (why: string): never => {
    throw new QueryError(parameter, `field '${path}'${where} cannot be queried${why}`, {
      field: path,
      ...(position !== undefined ? { position, expected: "a queryable field" } : {}),
    });
  };
  const [first, second, third] = segments as [string, string?, string?];
  if (first === "assetId" || first === "filename") {
    if (segments.length === 1) return { kind: "builtin", name: first };
    return fail(`: '${first}' has no sub-fields`);
  }
  if (first === "metadata") {
    if (segments.length === 2 && (BUILTIN_FIELDS as readonly string[]).includes(`metadata.${second}`))
      return { kind: "builtin", name: `metadata.${second}` as BuiltinName };
    if (second === "annotations" && third === "total" && segments.length === 3)
      return { kind: "builtin", name: "metadata.annotations.total" };
    if (second === "annotations" && third === "withTag" && segments.length > 3)
      return { kind: "tag", tag: segments.slice(3).join(".") };
    if (second === "customMetadata" && segments.length > 2) return { kind: "custom", key: segments.slice(2).join(".") };
    const own =
      segments.length === 1 ? "; for a custom metadata key of that name write metadata.customMetadata.metadata" : "";
    return fail(`; the queryable metadata fields are ${QUERYABLE_METADATA}${own}`);
  }
  if (TOP_LEVEL_FIELDS.has(first)) {
    const custom = printField({ kind: "custom", key: path });
    return fail(`; for a custom metadata key of that name write ${custom}`);
  }
  return { kind: "custom", key: path };
}

/** Where the parser found the parts of a comparison, for error messages (absent for filter trees). */
export interface LeafPositions {
  field: number;
  op: number;
  values: number[];
}

/**
 * Checks a whole tree (types, limits) and returns it with time literals as epoch milliseconds.
 * Throws QueryError on the first problem, with its position when `positions` knows it.
 */
export function checkExpr(expr: Expr, parameter: QueryParameter, positions?: WeakMap<object, LeafPositions>): Expr {
  let nodes = 0;
  const visit = (e: Expr, depth: number): Expr => {
    nodes++;
    if (nodes > LIMITS.nodes)
      throw new QueryError(parameter, `the query has more than ${LIMITS.nodes} conditions`, {
        expected: `at most ${LIMITS.nodes} conditions`,
      });
    if (depth > LIMITS.depth)
      throw new QueryError(parameter, `the query nests deeper than ${LIMITS.depth} levels`, {
        expected: `at most ${LIMITS.depth} levels of nesting`,
      });
    switch (e.type) {
      case "and":
      case "or":
        if (e.args.length < 2) throw new Error(`an '${e.type}' node needs two operands at least`);
        return { type: e.type, args: e.args.map((a) => visit(a, depth + 1)) };
      case "not":
        return { type: "not", arg: visit(e.arg, depth + 1) };
      case "exists":
        checkName(e.field, parameter, positions?.get(e));
        return e;
      default:
        checkName(e.field, parameter, positions?.get(e));
        return checkLeaf(e, parameter, positions?.get(e));
    }
  };
  return visit(expr, 1);
}

/**
 * Strings that both databases store as they are: PostgreSQL text cannot hold U+0000, and an
 * unpaired surrogate has no UTF-8 form (drivers would replace it, and the SQL would then compare
 * another string than the evaluator).
 */
export const isStorable = (s: string) =>
  !/\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
const STORABLE = "without U+0000 or unpaired surrogates";

function checkName(field: Field, parameter: QueryParameter, at: LeafPositions | undefined): void {
  const name = field.kind === "custom" ? field.key : field.kind === "tag" ? field.tag : "";
  if (isStorable(name)) return;
  const where = at ? ` at position ${at.field}` : "";
  const expected = `a name ${STORABLE}`;
  throw new QueryError(parameter, `expected ${expected}${where}, found ${JSON.stringify(name)}`, {
    field: printField(field),
    expected,
    ...(at ? { position: at.field } : {}),
  });
}

/**
 * A time literal: epoch milliseconds, or an ISO-8601 date (`2024-06-01`, with an optional time
 * and offset) read by Date.parse. Other strings Date.parse would guess at ("1", "June 1") are
 * refused. Undefined when the value is neither.
 */
export function timeValue(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v !== "string" || !ISO_DATE.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms === 0 ? 0 : ms;
}
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

type Leaf = Extract<Expr, { type: "compare" | "in" | "startsWith" | "contains" }>;

function checkLeaf(e: Leaf, parameter: QueryParameter, at: LeafPositions | undefined): Expr {
  const type = fieldType(e.field);
  const name = printField(e.field);
  const fail = (message: (where: string) => string, expected: string, position: number | undefined): never => {
    const where = position !== undefined ? ` at position ${position}` : "";
    throw new QueryError(parameter, message(where), {
      field: name,
      expected,
      ...(position !== undefined ? { position } : {}),
    });
  };
  const value = (v: Literal, i: number, ordered: boolean): Literal => {
    const wrong = (expected: string): never =>
      fail(
        (where) => `expected ${expected} for '${name}'${where}, found '${printLiteral(v)}'`,
        expected,
        at?.values[i],
      );
    if (typeof v === "boolean" && ordered) return wrong("a string or a number (true and false have no order)");
    if (typeof v === "number" && !Number.isFinite(v)) return wrong("a finite number");
    if (typeof v === "string" && !isStorable(v)) return wrong(`a string ${STORABLE}`);
    if (type === "string" && typeof v !== "string") return wrong("a string");
    if (type === "number" && typeof v !== "number") return wrong("a number");
    if (type === "time") return timeValue(v) ?? wrong("a number of epoch milliseconds or an ISO-8601 date string");
    return v;
  };
  switch (e.type) {
    case "compare":
      return { ...e, value: value(e.value, 0, e.op !== "==" && e.op !== "!=") };
    case "in":
      if (e.values.length > LIMITS.listItems) {
        const expected = `at most ${LIMITS.listItems} values`;
        fail(
          (where) => `the 'in' list of '${name}'${where} has more than ${LIMITS.listItems} values`,
          expected,
          at?.op,
        );
      }
      return { ...e, values: e.values.map((v, i) => value(v, i, false)) };
    case "startsWith":
    case "contains":
      if (type !== "string" && type !== "custom") {
        const kind = type === "time" ? "time" : "number";
        const message = (where: string) => `'${e.type}'${where} applies to strings, and '${name}' is a ${kind} field`;
        fail(message, "a string field or a custom key", at?.op);
      }
      if (typeof e.value !== "string") {
        const message = (where: string) =>
          `expected a string after '${e.type}'${where}, found '${printLiteral(e.value)}'`;
        fail(message, "a string", at?.values[0]);
      }
      return { ...e, value: value(e.value, 0, false) as string };
  }
}
