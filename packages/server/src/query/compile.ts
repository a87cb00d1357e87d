import { sql, type Expression, type ExpressionBuilder, type RawBuilder, type SqlBool } from "kysely";
import type { Database } from "../store/metadata/schema.js";
import type { BuiltinName, CompareOp, Expr, Literal } from "./ast.js";
import { normalizer, type TestExpr } from "./evaluate.js";
import { fold, succ } from "./strings.js";

/**
 * A checked tree to a WHERE condition on `assets` (selected without an alias). Values are always
 * bound parameters; only fixed table and column names are SQL text. Every condition is true or
 * false, never NULL: built-in columns are NOT NULL and custom keys and tags are tested through
 * EXISTS or count(*) subqueries, so `not` is plain negation, as in the evaluator.
 *
 * Strings compare byte-wise over UTF-8 (code point order): SQLite's default BINARY collation,
 * `COLLATE "C"` in PostgreSQL. Folded comparisons use the stored folded columns against folded
 * literals. PostgreSQL gets numbers as `double precision`, so a fraction never meets a bigint
 * parameter.
 */
export function compileWhere(
  expr: Expr,
  options: { strict: boolean; dialect: "sqlite" | "postgres"; drive?: Driver },
): (eb: ExpressionBuilder<Database, "assets">) => Expression<SqlBool> {
  const condition = new Compiler(options.strict, options.dialect, options.drive).expr(expr);
  return () => condition;
}

/**
 * A conjunct of the selection to drive the query from: instead of probing each asset row with
 * EXISTS (fast when many assets match, since a page stops early), the assets are looked up from
 * the index range of this one custom key (fast when few match). The store picks it by counting
 * the range first (see `compileProbe`).
 */
export interface Driver {
  /** One conjunct, or several whose index ranges are intersected (`INTERSECT`). */
  nodes: Expr[];
  orgId: string;
  datasetId: string;
}

/** The conjuncts that can drive: tests of one custom key served by one index range. */
export function driverCandidates(expr: Expr): Expr[] {
  const conjuncts = expr.type === "and" ? expr.args : [expr];
  return conjuncts.filter(
    (e) =>
      e.type !== "and" &&
      e.type !== "or" &&
      e.type !== "not" &&
      e.type !== "exists" &&
      e.field.kind === "custom" &&
      e.type !== "contains" &&
      !(e.type === "compare" && e.op === "!=") &&
      !(e.type === "in" && (e.values.length === 0 || new Set(e.values.map((v) => typeof v)).size > 1)),
  );
}

/**
 * How many rows of the candidate's index range there are, counting at most `limit`:
 * `select count(*) as n from (select 1 ... limit ?)`.
 */
export function compileProbe(
  node: Expr,
  options: { strict: boolean; dialect: "sqlite" | "postgres"; orgId: string; datasetId: string; limit: number },
): RawBuilder<{ n: number | string }> {
  const compiler = new Compiler(options.strict, options.dialect, {
    nodes: [node],
    orgId: options.orgId,
    datasetId: options.datasetId,
  });
  return sql<{ n: number | string }>`select count(*) as n from (${compiler.probe(node, options.limit)}) as x`;
}

type Sql = RawBuilder<unknown>;

const COLUMNS: Record<BuiltinName, string> = {
  assetId: "asset_id",
  filename: "filename",
  "metadata.fileSize": "file_size",
  "metadata.width": "width",
  "metadata.height": "height",
  "metadata.frames": "frames",
  "metadata.mimeType": "mime_type",
  "metadata.status": "status",
  "metadata.uploadStatus": "upload_status",
  "metadata.timeCreated": "created_at",
  "metadata.lastUpdated": "updated_at",
  "metadata.contentsLastUpdated": "contents_updated_at",
  "metadata.annotations.total": "annotation_count",
};

const TRUE = sql<SqlBool>`(1 = 1)`;
const FALSE = sql<SqlBool>`(1 = 0)`;

class Compiler {
  constructor(
    private readonly strict: boolean,
    private readonly dialect: "sqlite" | "postgres",
    private readonly drive?: Driver,
  ) {}

  /** The driver's index range as rows (`select 1 from asset_fields f where ... limit n`). */
  probe(e: Expr, limit: number): Sql {
    return sql`${this.range(e, "1")} limit ${limit}`;
  }

  /** A driving conjunct's index range as `select <what> from asset_fields f where ...`. */
  private range(e: Expr, what: "1" | "f.asset_seq" = "f.asset_seq"): Sql {
    let rows: Sql | undefined;
    this.rowsOf = (type, condition) => {
      rows = sql`${this.scopedRows(e, what)} and f.value_type = ${type} and ${condition}`;
      return TRUE;
    };
    try {
      if (e.type !== "and" && e.type !== "or" && e.type !== "not" && e.type !== "exists" && e.field.kind === "custom")
        this.custom(e, e.field.key);
    } finally {
      this.rowsOf = undefined;
    }
    if (!rows) throw new Error("not a driver candidate");
    return rows;
  }

  /** Set while building a probe: receives the row condition instead of an EXISTS. */
  private rowsOf: ((type: string, condition: Sql) => RawBuilder<SqlBool>) | undefined;

  /** `select <what> from asset_fields f where` the dataset's rows of the node's key. */
  private scopedRows(e: Expr, what: "1" | "f.asset_seq"): Sql {
    const key = e.type !== "and" && e.type !== "or" && e.type !== "not" && e.field.kind === "custom" ? e.field.key : "";
    return sql`select ${sql.raw(what)} from asset_fields f where f.org_id = ${this.str(this.drive!.orgId)} and f.dataset_id = ${this.str(this.drive!.datasetId)} and f.key = ${this.str(key)}`;
  }

  expr(e: Expr): RawBuilder<SqlBool> {
    switch (e.type) {
      case "and":
        return sql<SqlBool>`(${sql.join(
          e.args.map((a) => this.expr(a)),
          sql` and `,
        )})`;
      case "or":
        return sql<SqlBool>`(${sql.join(
          e.args.map((a) => this.expr(a)),
          sql` or `,
        )})`;
      case "not":
        return sql<SqlBool>`(not ${this.expr(e.arg)})`;
      case "exists":
        if (e.field.kind === "custom") return sql<SqlBool>`exists (${this.fieldRow(e.field.key)})`;
        if (e.field.kind === "tag")
          return sql<SqlBool>`exists (select 1 from annotations a ${this.tagRow(e.field.tag)})`;
        return TRUE;
      default:
        if (e.field.kind === "custom") return this.custom(e, e.field.key);
        if (e.field.kind === "tag") {
          const count = sql`(select count(*) from annotations a ${this.tagRow(e.field.tag)})`;
          return this.value(e, count, "number");
        }
        return this.builtin(e, e.field.name);
    }
  }

  private builtin(e: TestExpr, name: BuiltinName): RawBuilder<SqlBool> {
    const folded = normalizer(e.field, this.strict) === fold;
    // Stored mime types and statuses are lower-case already; file names have a folded column.
    const column = name === "filename" && folded ? "filename_folded" : COLUMNS[name];
    const isString =
      name === "assetId" ||
      name === "filename" ||
      name === "metadata.mimeType" ||
      name === "metadata.status" ||
      name === "metadata.uploadStatus";
    return this.value(e, sql.ref(`assets.${column}`), isString ? "string" : "number", folded);
  }

  /** A test of one SQL value, known to be of type `type` (a built-in column or a tag count). */
  private value(e: TestExpr, target: Sql, type: "string" | "number", folded = false): RawBuilder<SqlBool> {
    const lit = (v: Literal) =>
      type === "string" ? this.str(folded ? fold(v as string) : (v as string)) : this.integral(v as number);
    const col = type === "string" ? this.collate(target) : target;
    switch (e.type) {
      case "compare":
        return sql<SqlBool>`(${col} ${sql.raw(e.op === "==" ? "=" : e.op === "!=" ? "<>" : e.op)} ${lit(e.value)})`;
      case "in":
        return e.values.length === 0 ? FALSE : sql<SqlBool>`(${col} in (${sql.join(e.values.map(lit))}))`;
      case "startsWith":
        return this.prefix(col, folded ? fold(e.value) : e.value);
      case "contains":
        return this.instr(col, folded ? fold(e.value) : e.value);
    }
  }

  /** A custom key: EXISTS over the asset's typed row of that key, per literal type. */
  private custom(e: TestExpr, key: string): RawBuilder<SqlBool> {
    const folded = !this.strict;
    const str = sql.ref(folded ? "f.str_folded" : "f.str_value");
    const row = (type: "string" | "number" | "boolean", condition: Sql): RawBuilder<SqlBool> => {
      if (this.rowsOf) return this.rowsOf(type, condition);
      // The driver: the assets of its index range (or of the intersection of several), looked
      // up by seq. The first driving conjunct carries the lookup; the others hold by it.
      const at = this.drive?.nodes.indexOf(e) ?? -1;
      if (at > 0) return TRUE;
      if (at === 0) {
        const ranges = [
          sql`${this.scopedRows(e, "f.asset_seq")} and f.value_type = ${type} and ${condition}`,
          ...this.drive!.nodes.slice(1).map((n) => this.range(n)),
        ];
        return sql<SqlBool>`(assets.seq in (${sql.join(ranges, sql` intersect `)}))`;
      }
      return sql<SqlBool>`exists (${this.fieldRow(key)} and f.value_type = ${type} and ${condition})`;
    };
    const num = (v: number | boolean) => this.num(typeof v === "boolean" ? Number(v) : v);
    const typed = (v: Literal) => (typeof v === "string" ? "string" : typeof v === "number" ? "number" : "boolean");
    switch (e.type) {
      case "compare": {
        const v = e.value;
        if (e.op === "!=") return sql<SqlBool>`(not ${this.custom({ ...e, op: "==" }, key)})`;
        if (typeof v !== "string") return row(typed(v), sql`f.num_value ${op(e.op)} ${num(v)}`);
        if (e.op !== "==")
          return row("string", sql`${this.collate(str)} ${op(e.op)} ${this.str(folded ? fold(v) : v)}`);
        // Equal strings have equal folds: the strict test can use the folded index too.
        const equal = sql`${this.collate(sql.ref("f.str_folded"))} = ${this.str(fold(v))}`;
        return row("string", folded ? equal : sql`${equal} and ${this.collate(str)} = ${this.str(v)}`);
      }
      case "in": {
        const parts: RawBuilder<SqlBool>[] = [];
        const strings = e.values.filter((v): v is string => typeof v === "string");
        if (strings.length > 0) {
          const list = (values: string[]) => sql.join(values.map((s) => this.str(s)));
          const foldedIn = sql`${this.collate(sql.ref("f.str_folded"))} in (${list(strings.map(fold))})`;
          parts.push(
            row("string", folded ? foldedIn : sql`${foldedIn} and ${this.collate(str)} in (${list(strings)})`),
          );
        }
        for (const type of ["number", "boolean"] as const) {
          const values = e.values.filter((v): v is number | boolean => typed(v) === type);
          if (values.length > 0) parts.push(row(type, sql`f.num_value in (${sql.join(values.map(num))})`));
        }
        if (parts.length === 0) return FALSE;
        return parts.length === 1 ? (parts[0] as RawBuilder<SqlBool>) : sql<SqlBool>`(${sql.join(parts, sql` or `)})`;
      }
      case "startsWith":
        return row("string", this.prefix(this.collate(str), folded ? fold(e.value) : e.value));
      case "contains":
        return row("string", this.instr(str, folded ? fold(e.value) : e.value));
    }
  }

  /** `SELECT 1 FROM asset_fields f WHERE` the asset's row of `key` (the caller may add `and ...`). */
  private fieldRow(key: string): Sql {
    return sql`select 1 from asset_fields f where f.asset_seq = assets.seq and f.key = ${this.str(key)}`;
  }

  /** The WHERE clause selecting the asset's annotations `a` with tag `tag`. */
  private tagRow(tag: string): Sql {
    return sql`where a.asset_id = assets.asset_id and a.tag = ${this.str(tag)}`;
  }

  /** `starts with p` as an index-friendly range: `col >= p and col < succ(p)`. */
  private prefix(col: Sql, p: string): RawBuilder<SqlBool> {
    const upper = succ(p);
    if (upper === undefined) return sql<SqlBool>`(${col} >= ${this.str(p)})`;
    return sql<SqlBool>`(${col} >= ${this.str(p)} and ${col} < ${this.str(upper)})`;
  }

  private instr(col: Sql, part: string): RawBuilder<SqlBool> {
    return this.dialect === "postgres"
      ? sql<SqlBool>`(strpos(${col}, ${this.str(part)}) > 0)`
      : sql<SqlBool>`(instr(${col}, ${this.str(part)}) > 0)`;
  }

  private collate(col: Sql): Sql {
    return this.dialect === "postgres" ? sql`${col} collate "C"` : col;
  }

  private str(s: string): Sql {
    return sql`${s}`;
  }

  /**
   * A number compared with an integer column (built-in sizes and dimensions, tag counts). On
   * PostgreSQL a whole number is bound as bigint, which the columns' indexes serve (integer and
   * bigint share one operator family); as double precision the column would be cast and its
   * index not used. A fractional literal stays double precision (correct, not indexed).
   */
  private integral(n: number): Sql {
    return this.dialect === "postgres" && Number.isSafeInteger(n) ? sql`cast(${n} as bigint)` : this.num(n);
  }

  private num(n: number): Sql {
    return this.dialect === "postgres" ? sql`cast(${n} as double precision)` : sql`${n}`;
  }
}

const op = (o: Exclude<CompareOp, "!=">) => sql.raw(o === "==" ? "=" : o);
