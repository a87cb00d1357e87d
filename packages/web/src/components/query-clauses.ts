/**
 * The filter controls write the query language itself (docs/query-language.md), so the search
 * bar always shows the whole selection: each control owns one `field == "value"` clause.
 */
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const clausePattern = (field: string) => new RegExp(`${escapeRegex(field)} == "((?:[^"\\\\]|\\\\.)*)"`, "i");

/** The value of a control's clause in the query, if the query has one. */
export function clauseValue(query: string, field: string): string | undefined {
  const match = clausePattern(field).exec(query);
  return match ? JSON.parse(`"${match[1]}"`) : undefined;
}

/** The query with the control's clause set to `value` (or removed when `value` is empty). */
export function withClause(query: string, field: string, value: string | undefined): string {
  const pattern = clausePattern(field);
  let rest = query;
  const match = pattern.exec(rest);
  if (match) {
    const before = rest.slice(0, match.index).replace(/\s*(and|&&)\s*$/i, "");
    const after = rest.slice(match.index + match[0].length).replace(/^\s*(and|&&)\s*/i, "");
    rest = before && after ? `${before} and ${after}` : before || after;
  }
  rest = rest.trim();
  if (!value) return rest;
  const clause = `${field} == ${JSON.stringify(value)}`;
  if (!rest) return clause;
  return /\b(or)\b|\|\|/i.test(rest) && !match ? `(${rest}) and ${clause}` : `${rest} and ${clause}`;
}
