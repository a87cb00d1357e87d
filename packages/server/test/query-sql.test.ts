import fc from "fast-check";
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";
import { describe, expect, it } from "vitest";
import { compareCodePoints, compileWhere, parseQuery, succ } from "../src/query/index.js";
import type { Database } from "../src/store/metadata/schema.js";

const utf8Order = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
/** Strings without lone surrogates (what UTF-8 columns can hold). */
const wellFormed = fc
  .string({ unit: "binary", maxLength: 5 })
  .filter((s) => Buffer.from(s, "utf8").toString("utf8") === s);

describe("succ", () => {
  it("increments the last code point", () => {
    expect(succ("a")).toBe("b");
    expect(succ("cats/")).toBe("cats0");
    expect(succ("a😀")).toBe("a😁");
    expect(succ("a\uffff")).toBe("a\u{10000}");
    expect(succ("\u{1ffff}")).toBe("\u{20000}");
  });

  it("skips the surrogate range", () => {
    expect(succ("x\ud7ff")).toBe("x\ue000");
  });

  it("drops trailing U+10FFFF, and has no answer when nothing is left", () => {
    expect(succ("ab\u{10ffff}\u{10ffff}")).toBe("ac");
    expect(succ("\u{10ffff}")).toBeUndefined();
    expect(succ("")).toBeUndefined();
  });

  it("bounds exactly the strings that start with the prefix", () => {
    const candidate = fc.oneof(
      wellFormed,
      fc.tuple(wellFormed, wellFormed).map(([p, s]) => p + s),
      fc.constantFrom("\u{10ffff}", "\ud7ff", "\ue000", "\uffff", "😀"),
    );
    fc.assert(
      fc.property(wellFormed, candidate, fc.boolean(), (prefix, rest, glue) => {
        const s = glue ? prefix + rest : rest;
        const upper = succ(prefix);
        const inRange = utf8Order(s, prefix) >= 0 && (upper === undefined || utf8Order(s, upper) < 0);
        expect(inRange).toBe(s.startsWith(prefix));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("compareCodePoints", () => {
  it('orders as UTF-8 bytes do (SQLite BINARY, PostgreSQL COLLATE "C")', () => {
    expect(compareCodePoints("\uffff", "😀")).toBeLessThan(0);
    expect("\uffff" < "😀").toBe(false);
    fc.assert(
      fc.property(wellFormed, wellFormed, (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(utf8Order(a, b));
      }),
      { numRuns: 1000 },
    );
  });
});

/** Kysely instances that compile only. */
const compiler = (dialect: "sqlite" | "postgres") =>
  new Kysely<Database>({
    dialect: {
      createAdapter: () => (dialect === "sqlite" ? new SqliteAdapter() : new PostgresAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => (dialect === "sqlite" ? new SqliteIntrospector(db) : new PostgresIntrospector(db)),
      createQueryCompiler: () => (dialect === "sqlite" ? new SqliteQueryCompiler() : new PostgresQueryCompiler()),
    },
  });

function where(text: string, dialect: "sqlite" | "postgres", strict = false) {
  const query = compiler(dialect)
    .selectFrom("assets")
    .select("asset_id")
    .where(compileWhere(parseQuery(text), { strict, dialect }))
    .compile();
  return { sql: query.sql.replace(/^select "asset_id" from "assets" where /, ""), parameters: query.parameters };
}

describe("compileWhere", () => {
  it("compiles a custom string equality to an EXISTS on the folded index", () => {
    expect(where('custom_field == "Value"', "sqlite")).toEqual({
      sql: 'exists (select 1 from asset_fields f where f.asset_seq = assets.seq and f.key = ? and f.value_type = ? and "f"."str_folded" = ?)',
      parameters: ["custom_field", "string", "value"],
    });
    expect(where('custom_field == "Value"', "sqlite", true)).toEqual({
      sql: 'exists (select 1 from asset_fields f where f.asset_seq = assets.seq and f.key = ? and f.value_type = ? and "f"."str_folded" = ? and "f"."str_value" = ?)',
      parameters: ["custom_field", "string", "value", "Value"],
    });
  });

  it("compiles startsWith to a range, contains to instr or strpos", () => {
    expect(where('filename startsWith "Cats/"', "sqlite")).toEqual({
      sql: '("assets"."filename_folded" >= ? and "assets"."filename_folded" < ?)',
      parameters: ["cats/", "cats0"],
    });
    expect(where('filename startsWith "Cats/"', "sqlite", true).parameters).toEqual(["Cats/", "Cats0"]);
    expect(where('filename startsWith ""', "sqlite").sql).toBe('("assets"."filename_folded" >= ?)');
    expect(where('filename contains "x"', "sqlite").sql).toBe('(instr("assets"."filename_folded", ?) > 0)');
    expect(where('filename contains "x"', "postgres").sql).toBe(
      '(strpos("assets"."filename_folded" collate "C", $1) > 0)',
    );
  });

  it("binds every value, never pastes one", () => {
    const text = `k == "x'); drop table assets; --" or filename < "y\\"z" or \`we'ird\` in [1, "two", true] or metadata.annotations.withTag["t'ag"] > 2`;
    for (const dialect of ["sqlite", "postgres"] as const) {
      const { sql, parameters } = where(text, dialect);
      expect(sql).not.toMatch(/drop|we'ird|t'ag|two/);
      expect(parameters).toEqual(
        expect.arrayContaining(["x'); drop table assets; --", 'y"z', "we'ird", "two", 1, "t'ag", 2]),
      );
    }
  });

  it('uses COLLATE "C", bigint for whole numbers against integer columns, and double precision otherwise in PostgreSQL', () => {
    expect(where('filename < "b" and metadata.fileSize > 1.5', "postgres")).toEqual({
      sql: '(("assets"."filename_folded" collate "C" < $1) and ("assets"."file_size" > cast($2 as double precision)))',
      parameters: ["b", 1.5],
    });
    // As double precision the column would be cast, and its index not used.
    expect(where("metadata.fileSize > 1000", "postgres")).toEqual({
      sql: '("assets"."file_size" > cast($1 as bigint))',
      parameters: [1000],
    });
    expect(where("metadata.annotations.withTag.car >= 2", "postgres")).toEqual({
      sql: "((select count(*) from annotations a where a.asset_id = assets.asset_id and a.tag = $1) >= cast($2 as bigint))",
      parameters: ["car", 2],
    });
    // Custom numbers are stored as double precision: compared as such.
    expect(where("k > 2", "postgres").sql).toContain("f.num_value > cast($3 as double precision)");
  });

  it("negates custom comparisons whole, so that != matches missing keys", () => {
    expect(where("k != 1", "sqlite")).toEqual({
      sql: "(not exists (select 1 from asset_fields f where f.asset_seq = assets.seq and f.key = ? and f.value_type = ? and f.num_value = ?))",
      parameters: ["k", "number", 1],
    });
  });

  it("reads the upload status from its column, folded unless strict", () => {
    expect(where('metadata.uploadStatus == "Processing"', "sqlite")).toEqual({
      sql: '("assets"."upload_status" = ?)',
      parameters: ["processing"],
    });
    expect(where('metadata.uploadStatus == "Processing"', "sqlite", true).parameters).toEqual(["Processing"]);
  });

  it("turns constants and empty lists into fixed truths", () => {
    expect(where("k in []", "sqlite").sql).toBe("(1 = 0)");
    expect(where("exists(metadata.width)", "sqlite").sql).toBe("(1 = 1)");
  });

  it("binds booleans as 0 and 1", () => {
    expect(where("k == true or k in [false]", "sqlite").parameters).toEqual(["k", "boolean", 1, "k", "boolean", 0]);
  });
});
