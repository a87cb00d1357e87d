/** Which request parameter a query error is about: the JSON `filter` or the `metadataQuery` text. */
export type QueryParameter = "filter" | "metadataQuery";

/**
 * A selection the server cannot accept: bad syntax, an unknown or unqueryable field, a value of
 * the wrong type, or a limit exceeded. The asset service turns it into a 400 InvalidParameter
 * carrying these properties, so a client sees what is wrong and where.
 */
export class QueryError extends Error {
  override readonly name = "QueryError";
  /** 0-based character offset in the metadataQuery text (syntax and type errors of the text). */
  readonly position?: number;
  /** What the parser expected at `position`, e.g. "a comparison operator". */
  readonly expected?: string;
  /** The field the error is about, as written (dotted path or filter key). */
  readonly field?: string;

  constructor(
    readonly parameter: QueryParameter,
    message: string,
    extra: { position?: number; expected?: string; field?: string } = {},
  ) {
    super(message);
    if (extra.position !== undefined) this.position = extra.position;
    if (extra.expected !== undefined) this.expected = extra.expected;
    if (extra.field !== undefined) this.field = extra.field;
  }
}
