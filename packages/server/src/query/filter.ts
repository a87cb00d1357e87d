import { allOf, LIMITS, type BuiltinName, type CompareOp, type Expr, type Field, type Literal } from "./ast.js";
import { QueryError } from "./errors.js";
import { checkExpr, timeValue } from "./fields.js";
import { LiteralSyntaxError, parsePythonLiteral } from "./pyrepr.js";

/**
 * The `filter` JSON object to a checked tree made of the same nodes as the language, so both
 * inputs reach SQL one way. Accepts an object, or a string holding JSON or the Python client's
 * `str(dict)`. An empty object or blank string is no filter (undefined).
 */
export function parseFilter(raw: string | object): Expr | undefined {
  const object = typeof raw === "string" ? readText(raw) : raw;
  if (object === null || typeof object !== "object" || Array.isArray(object))
    throw new QueryError(
      "filter",
      `filter must be a JSON object, e.g. {"status": "uploaded"}; found ${kindOf(object)}`,
      {
        expected: "a JSON object",
      },
    );
  const parts: Expr[] = [];
  for (const [name, value] of Object.entries(object)) {
    const build = Object.hasOwn(FIELDS, name) ? FIELDS[name] : undefined;
    if (!build)
      throw new QueryError(
        "filter",
        `unknown filter field '${name}'; the filter fields are ${Object.keys(FIELDS).join(", ")}`,
        {
          field: name,
          expected: "a filter field",
        },
      );
    const part = build(name, value);
    if (part) parts.push(part);
  }
  const tree = allOf(parts);
  return tree && checkExpr(tree, "filter");
}

function readText(raw: string): unknown {
  const text = raw.trim();
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    try {
      return parsePythonLiteral(text);
    } catch (err) {
      if (!(err instanceof LiteralSyntaxError)) throw err;
      throw new QueryError("filter", `filter is neither a JSON object nor a Python dict: ${err.message}`, {
        position: err.position,
        expected: "a JSON object",
      });
    }
  }
}

type Builder = (name: string, value: unknown) => Expr | undefined;

const builtin = (name: BuiltinName): Field => ({ kind: "builtin", name });
const compare = (field: Field, op: CompareOp, value: Literal): Expr => ({ type: "compare", field, op, value });

const bad = (name: string, allowed: string): never => {
  throw new QueryError("filter", `filter field '${name}' must be ${allowed}`, { field: name, expected: allowed });
};

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isScalar = (v: unknown): v is Literal => typeof v === "string" || typeof v === "boolean" || isNumber(v);
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** `status`, `uploadStatus`, `mimeType`: one string, or any of a non-empty list. */
const oneOf =
  (field: BuiltinName): Builder =>
  (name, value) => {
    const allowed = "a string or a non-empty array of strings";
    if (typeof value === "string") return compare(builtin(field), "==", value);
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string"))
      return bad(name, allowed);
    if (value.length > LIMITS.listItems) return bad(name, `${allowed} (at most ${LIMITS.listItems})`);
    return { type: "in", field: builtin(field), values: value };
  };

const RANGE_OPS: [string, CompareOp][] = [
  ["gt", ">"],
  ["gte", ">="],
  ["lt", "<"],
  ["lte", "<="],
];

/** A number (exact) or `{gt?, gte?, lt?, lte?}`, values read by `read` (undefined: not allowed). */
function range(field: Field, name: string, value: unknown, allowed: string, read: (v: unknown) => number | undefined) {
  const exact = read(value);
  if (exact !== undefined) return compare(field, "==", exact);
  if (!isPlainObject(value)) return bad(name, allowed);
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.some((k) => !RANGE_OPS.some(([key]) => key === k))) return bad(name, allowed);
  const parts: Expr[] = [];
  for (const [key, op] of RANGE_OPS) {
    if (!Object.hasOwn(value, key)) continue;
    const bound = read(value[key]);
    if (bound === undefined) return bad(`${name}.${key}`, allowed);
    parts.push(compare(field, op, bound));
  }
  return allOf(parts);
}

const numeric =
  (field: BuiltinName): Builder =>
  (name, value) =>
    range(
      builtin(field),
      name,
      value,
      'a number or a range object such as {"gte": 1, "lt": 10} (gt, gte, lt, lte: numbers)',
      (v) => (isNumber(v) ? v : undefined),
    );

const time =
  (field: BuiltinName): Builder =>
  (name, value) =>
    range(
      builtin(field),
      name,
      value,
      'epoch milliseconds, an ISO-8601 date string, or a range object such as {"gte": "2024-01-01"} (gt, gte, lt, lte)',
      timeValue,
    );

/** A tag or a non-empty list of tags. */
function tags(name: string, value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) return value;
  return bad(name, "a tag name or a non-empty array of tag names");
}

const FIELDS: Record<string, Builder> = {
  status: oneOf("metadata.status"),
  uploadStatus: oneOf("metadata.uploadStatus"),
  mimeType: oneOf("metadata.mimeType"),
  filename: (name, value) => {
    const allowed = 'a string (the exact name), {"eq": "name"} or {"prefix": "folder/"}';
    const field = builtin("filename");
    if (typeof value === "string") return compare(field, "==", value);
    if (!isPlainObject(value)) return bad(name, allowed);
    const keys = Object.keys(value);
    if (keys.length === 0 || keys.some((k) => (k !== "eq" && k !== "prefix") || typeof value[k] !== "string"))
      return bad(name, allowed);
    return allOf([
      typeof value.eq === "string" ? compare(field, "==", value.eq) : undefined,
      typeof value.prefix === "string" ? { type: "startsWith", field, value: value.prefix } : undefined,
    ]);
  },
  fileSize: numeric("metadata.fileSize"),
  width: numeric("metadata.width"),
  height: numeric("metadata.height"),
  frames: numeric("metadata.frames"),
  annotationCount: numeric("metadata.annotations.total"),
  timeCreated: time("metadata.timeCreated"),
  hasTag: (name, value) => allOf(tags(name, value).map((tag) => ({ type: "exists", field: { kind: "tag", tag } }))),
  lacksTag: (name, value) =>
    allOf(tags(name, value).map((tag) => ({ type: "not", arg: { type: "exists", field: { kind: "tag", tag } } }))),
  assetIds: (name, value) => {
    const allowed = `a non-empty array of at most ${LIMITS.listItems} asset ids (strings)`;
    if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.listItems) return bad(name, allowed);
    if (!value.every((v) => typeof v === "string")) return bad(name, allowed);
    return { type: "in", field: builtin("assetId"), values: value };
  },
  customMetadata: (name, value) => {
    if (!isPlainObject(value)) return bad(name, "an object of custom metadata keys and the values they must have");
    return allOf(Object.entries(value).map(([key, v]) => custom(`${name}.${key}`, key, v)));
  },
};

/** One key of `customMetadata`: a value (equality), a non-empty list (any of) or a numeric range. */
function custom(name: string, key: string, value: unknown): Expr | undefined {
  const field: Field = { kind: "custom", key };
  const allowed = 'a string, number or boolean, a non-empty array of them, or a numeric range such as {"gte": 0.5}';
  if (isScalar(value)) return compare(field, "==", value);
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > LIMITS.listItems || !value.every(isScalar)) return bad(name, allowed);
    return { type: "in", field, values: value };
  }
  return range(field, name, value, allowed, (v) => (isNumber(v) ? v : undefined));
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}
