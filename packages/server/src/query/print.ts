import { TOP_LEVEL_FIELDS, type Expr, type Field, type Literal } from "./ast.js";
import { isPlainName, KEYWORDS } from "./lexer.js";

/**
 * A tree back to metadataQuery text. Parentheses appear only where the tree needs them (an `or`
 * inside an `and`, an `and`/`or` inside a `not`, or a nested node of the same kind), so that
 * parsing the text gives back the same tree.
 */
export function printQuery(expr: Expr): string {
  switch (expr.type) {
    case "and":
      return expr.args
        .map((a) => (a.type === "and" || a.type === "or" ? `(${printQuery(a)})` : printQuery(a)))
        .join(" and ");
    case "or":
      return expr.args.map((a) => (a.type === "or" ? `(${printQuery(a)})` : printQuery(a))).join(" or ");
    case "not":
      return expr.arg.type === "and" || expr.arg.type === "or"
        ? `not (${printQuery(expr.arg)})`
        : `not ${printQuery(expr.arg)}`;
    case "compare":
      return `${printField(expr.field)} ${expr.op} ${printLiteral(expr.value)}`;
    case "in":
      return `${printField(expr.field)} in [${expr.values.map(printLiteral).join(", ")}]`;
    case "startsWith":
      return `${printField(expr.field)} startsWith ${printLiteral(expr.value)}`;
    case "contains":
      return `${printField(expr.field)} contains ${printLiteral(expr.value)}`;
    case "exists":
      return `exists(${printField(expr.field)})`;
  }
}

/** A literal as the language writes it (strings in JSON syntax). */
export function printLiteral(value: Literal): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * A field as the language writes it. A custom key prints bare when it can (`camera`, `a.b`), under
 * `metadata.customMetadata.` when its first part is a top-level Asset field name (`owner`), and
 * as `["my key"]` when a part is not a plain name.
 */
export function printField(field: Field): string {
  switch (field.kind) {
    case "builtin":
      return field.name;
    case "tag":
      return `metadata.annotations.withTag${suffix(field.tag)}`;
    case "custom": {
      const parts = field.key.split(".");
      if (!parts.every(isPlainName)) return `[${JSON.stringify(field.key)}]`;
      const first = parts[0] as string;
      if (TOP_LEVEL_FIELDS.has(first) || KEYWORDS.has(first.toLowerCase()))
        return `metadata.customMetadata.${field.key}`;
      return field.key;
    }
  }
}

/** The rest of a path after a fixed prefix: `.a.b` for plain parts, else `["..."]`. */
function suffix(rest: string): string {
  return rest.split(".").every(isPlainName) ? `.${rest}` : `[${JSON.stringify(rest)}]`;
}
