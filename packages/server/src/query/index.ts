/**
 * The query language of asset selections: `filter` (JSON) and `metadataQuery` (text) become one
 * syntax tree (ast.ts), checked (fields.ts), then compiled to SQL (compile.ts) or evaluated in
 * memory (evaluate.ts). docs/query-language.md describes the language for users.
 */
import { allOf, type Expr } from "./ast.js";
import { parseFilter } from "./filter.js";
import { parseQuery } from "./parse.js";

export type { BuiltinName, CompareOp, Expr, Field, Literal } from "./ast.js";
export { LIMITS } from "./ast.js";
export { QueryError, type QueryParameter } from "./errors.js";
export { parseQuery } from "./parse.js";
export { parseFilter } from "./filter.js";
export { matches, type QueryableAsset } from "./evaluate.js";
export { compileWhere, compileProbe, driverCandidates, type Driver } from "./compile.js";
export { printQuery } from "./print.js";
export { fold, succ, compareCodePoints } from "./strings.js";

/**
 * The selection of an asset listing or bulk delete: the AND of `filter` and `metadataQuery`.
 * Undefined when neither selects anything (absent, null, blank, or an empty filter object).
 * Throws QueryError naming the parameter at fault.
 */
export function selection(input: { filter?: string | object | null; metadataQuery?: string | null }): Expr | undefined {
  const filter = input.filter === undefined || input.filter === null ? undefined : parseFilter(input.filter);
  const text = input.metadataQuery ?? "";
  const query = text.trim() === "" ? undefined : parseQuery(text);
  return allOf([filter, query]);
}
