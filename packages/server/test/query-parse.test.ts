import { describe, expect, it } from "vitest";
import { parseQuery, printQuery, QueryError, type Expr, type Field } from "../src/query/index.js";

const custom = (key: string): Field => ({ kind: "custom", key });
const eq = (key: string, value: string | number | boolean): Expr => ({
  type: "compare",
  field: custom(key),
  op: "==",
  value,
});

/** The QueryError that parsing `text` throws. */
function error(text: string): QueryError {
  try {
    parseQuery(text);
  } catch (err) {
    expect(err).toBeInstanceOf(QueryError);
    return err as QueryError;
  }
  throw new Error(`'${text}' parsed without error`);
}

describe("parseQuery: the examples", () => {
  it("reads a custom key compared with a string, verbatim", () => {
    expect(parseQuery('custom_field == "value"')).toEqual(eq("custom_field", "value"));
  });

  it("reads in-lists, and, not exists, built-ins, startsWith, contains", () => {
    expect(parseQuery('camera in ["a", "b"] and score >= 0.8')).toEqual({
      type: "and",
      args: [
        { type: "in", field: custom("camera"), values: ["a", "b"] },
        { type: "compare", field: custom("score"), op: ">=", value: 0.8 },
      ],
    });
    expect(parseQuery("not exists(reviewed)")).toEqual({
      type: "not",
      arg: { type: "exists", field: custom("reviewed") },
    });
    expect(parseQuery("metadata.fileSize > 1000000")).toEqual({
      type: "compare",
      field: { kind: "builtin", name: "metadata.fileSize" },
      op: ">",
      value: 1000000,
    });
    expect(parseQuery('filename startsWith "cats/"')).toEqual({
      type: "startsWith",
      field: { kind: "builtin", name: "filename" },
      value: "cats/",
    });
    expect(parseQuery('label contains "car"')).toEqual({ type: "contains", field: custom("label"), value: "car" });
  });
});

describe("parseQuery: operators and precedence", () => {
  it("binds not tighter than and, and tighter than or", () => {
    expect(parseQuery("a == 1 or not b == 2 and c == 3")).toEqual({
      type: "or",
      args: [eq("a", 1), { type: "and", args: [{ type: "not", arg: eq("b", 2) }, eq("c", 3)] }],
    });
  });

  it("makes one node of a chain, and keeps parenthesized groups", () => {
    expect(parseQuery("a == 1 and b == 2 and c == 3")).toEqual({
      type: "and",
      args: [eq("a", 1), eq("b", 2), eq("c", 3)],
    });
    expect(parseQuery("a == 1 and (b == 2 and c == 3)")).toEqual({
      type: "and",
      args: [eq("a", 1), { type: "and", args: [eq("b", 2), eq("c", 3)] }],
    });
    expect(parseQuery("((a == 1))")).toEqual(eq("a", 1));
    expect(parseQuery("(a == 1 or b == 2) and c == 3")).toEqual({
      type: "and",
      args: [{ type: "or", args: [eq("a", 1), eq("b", 2)] }, eq("c", 3)],
    });
  });

  it("accepts keywords in any case, and &&, ||, !, =", () => {
    const expected = parseQuery("not a == 1 and b == 2 or c == 3");
    expect(parseQuery("NOT a == 1 AND b == 2 Or c == 3")).toEqual(expected);
    expect(parseQuery("!a = 1 && b = 2 || c = 3")).toEqual(expected);
    expect(parseQuery("!(a == 1)")).toEqual({ type: "not", arg: eq("a", 1) });
    expect(parseQuery('a STARTSWITH "x" and b CONTAINS "y" and c IN [1] and EXISTS(d)')).toEqual(
      parseQuery('a startsWith "x" and b contains "y" and c in [1] and exists(d)'),
    );
    expect(parseQuery("a == TRUE or a == False")).toEqual({ type: "or", args: [eq("a", true), eq("a", false)] });
  });

  it("reads every comparison operator", () => {
    for (const op of ["==", "!=", "<", "<=", ">", ">="] as const)
      expect(parseQuery(`n ${op} 1`)).toEqual({ type: "compare", field: custom("n"), op, value: 1 });
    expect(parseQuery("n=1")).toEqual(eq("n", 1));
  });

  it("reads in-lists of mixed types, and the empty list", () => {
    expect(parseQuery('k in [1, "one", true]')).toEqual({ type: "in", field: custom("k"), values: [1, "one", true] });
    expect(parseQuery("k in []")).toEqual({ type: "in", field: custom("k"), values: [] });
  });

  it("needs no spaces", () => {
    expect(parseQuery('a==1&&b!="x"||!exists(c)')).toEqual(parseQuery('a == 1 and b != "x" or not exists(c)'));
    expect(parseQuery("n>-1")).toEqual({ type: "compare", field: custom("n"), op: ">", value: -1 });
  });
});

describe("parseQuery: literals", () => {
  it("reads strings in either quote with JSON-style escapes", () => {
    expect(parseQuery(`k == 'it\\'s'`)).toEqual(eq("k", "it's"));
    expect(parseQuery(`k == "say \\"hi\\""`)).toEqual(eq("k", 'say "hi"'));
    expect(parseQuery(`k == "a\\\\b\\/c\\n\\t\\r\\b\\f"`)).toEqual(eq("k", "a\\b/c\n\t\r\b\f"));
    expect(parseQuery(`k == "\\u00e9\\ud83d\\ude00"`)).toEqual(eq("k", "é😀"));
    expect(parseQuery(`k == "😀 İ ß"`)).toEqual(eq("k", "😀 İ ß"));
    expect(parseQuery(`k == 'double " inside'`)).toEqual(eq("k", 'double " inside'));
  });

  it("reads numbers in JSON syntax", () => {
    const values = ["0", "-0", "12", "-3", "0.5", "-0.25", "1e3", "1E+3", "2.5e-3"].map(
      (n) => (parseQuery(`n == ${n}`) as { value: number }).value,
    );
    expect(values).toEqual([0, 0, 12, -3, 0.5, -0.25, 1000, 1000, 0.0025]);
    expect(Object.is((parseQuery("n == -0") as { value: number }).value, 0)).toBe(true);
  });

  it("refuses numbers outside JSON syntax or range", () => {
    for (const [text, position] of [
      ["n == 01", 5],
      ["n == 1.", 5],
      ["n == .5", 5],
      ["n == 1e", 5],
      ["n == 12abc", 5],
      ["n == - 1", 5],
      ["n == 1e999", 5],
    ] as const) {
      const err = error(text);
      expect(err.position, text).toBe(position);
      expect(err.expected, text).toMatch(/number/);
    }
  });
});

describe("parseQuery: fields", () => {
  it("resolves built-in fields", () => {
    for (const name of [
      "assetId",
      "filename",
      "metadata.fileSize",
      "metadata.width",
      "metadata.height",
      "metadata.frames",
      "metadata.annotations.total",
    ] as const) {
      const value = name === "assetId" || name === "filename" ? '"x"' : "1";
      expect((parseQuery(`${name} == ${value}`) as { field: Field }).field).toEqual({ kind: "builtin", name });
    }
    for (const name of ["mimeType", "status", "uploadStatus"])
      expect((parseQuery(`metadata.${name} == "x"`) as { field: Field }).field).toEqual({
        kind: "builtin",
        name: `metadata.${name}`,
      });
  });

  it("resolves tags and custom keys, with dotted, backticked and bracketed parts", () => {
    const field = (text: string) => (parseQuery(`${text} == 1`) as { field: Field }).field;
    expect(field("metadata.annotations.withTag.car")).toEqual({ kind: "tag", tag: "car" });
    expect(field('metadata.annotations.withTag["traffic light"]')).toEqual({ kind: "tag", tag: "traffic light" });
    expect(field("metadata.annotations.withTag.a.b")).toEqual({ kind: "tag", tag: "a.b" });
    expect(field("metadata.customMetadata.owner")).toEqual(custom("owner"));
    expect(field("metadata.customMetadata.fileSize")).toEqual(custom("fileSize"));
    expect(field("fileSize")).toEqual(custom("fileSize"));
    expect(field("camera.model")).toEqual(custom("camera.model"));
    expect(field("`my key`")).toEqual(custom("my key"));
    expect(field("`a``b`")).toEqual(custom("a`b"));
    expect(field('["my key"]')).toEqual(custom("my key"));
    expect(field('a["b c"].d')).toEqual(custom("a.b c.d"));
    expect(field("`not`")).toEqual(custom("not"));
    expect(field("a.not")).toEqual(custom("a.not"));
    expect(field("with-dash_1")).toEqual(custom("with-dash_1"));
    expect(field("Filename")).toEqual(custom("Filename"));
    expect(field('["😀"]')).toEqual(custom("😀"));
  });

  it("refuses unqueryable Asset fields, suggesting the custom key", () => {
    for (const name of ["kind", "datasetId", "workspaceId", "owner", "selfLink", "etag", "metadata", "contents"]) {
      const err = error(`${name} == "x"`);
      expect(err.message).toContain(`field '${name}' at position 0 cannot be queried`);
      expect(err.message).toContain(`metadata.customMetadata.${name}`);
      expect(err.field).toBe(name);
      expect(err.position).toBe(0);
      expect(err.parameter).toBe("metadataQuery");
    }
  });

  it("refuses unknown metadata fields, listing the queryable ones", () => {
    const err = error("a == 1 and metadata.fileSizes > 3");
    expect(err.message).toContain("field 'metadata.fileSizes' at position 11 cannot be queried");
    expect(err.message).toContain("metadata.fileSize, metadata.width");
    expect(err.message).toContain("metadata.customMetadata.<key>");
    expect(err.field).toBe("metadata.fileSizes");
    for (const text of [
      "metadata.annotations == 1",
      "metadata.annotations.withTag == 1",
      "metadata.customMetadata == 1",
      "metadata.fileSize.x == 1",
      "filename.x == 1",
    ])
      expect(error(text).message, text).toContain("cannot be queried");
  });
});

describe("parseQuery: syntax errors say where, what was expected and what was found", () => {
  const cases: [string, number, string, string][] = [
    [
      'score "x"',
      6,
      "a comparison operator",
      `expected a comparison operator after 'score' at position 6, found '"x"'`,
    ],
    ["", 0, "a field, 'not', 'exists(' or '('", "found the end of the query"],
    ["a ==", 4, "a value (a string, a number, true or false)", "after '=='"],
    ["a == b", 5, "a value (a string, a number, true or false)", "found 'b'"],
    ["(a == 1", 7, "'and', 'or' or ')'", "(for the '(' at position 0)"],
    ["a == 1)", 6, "'and', 'or' or the end of the query", "found ')'"],
    ["a == 1 b == 2", 7, "'and', 'or' or the end of the query", "found 'b'"],
    ["a == 1 and", 10, "a field, 'not', 'exists(' or '('", "found the end of the query"],
    ["and == 1", 0, "a field, 'not', 'exists(' or '('", "found 'and'"],
    ["a in 1", 5, "'['", "after 'in'"],
    ["a in [1,", 8, "a value (a string, a number, true or false)", "after ','"],
    ["a in [1 2]", 8, "',' or ']'", "found '2'"],
    ["a in [,]", 6, "a value (a string, a number, true or false) or ']'", "found ','"],
    ["exists a", 7, "'('", "after 'exists'"],
    ["exists(a", 8, "')'", "after 'a'"],
    ["exists()", 7, "a field, 'not', 'exists(' or '('", "found ')'"],
    ["a. == 1", 3, "a name", "after 'a.'"],
    ["a[1] == 1", 2, "a quoted name", "after '['"],
    ['a["x" == 1', 6, "']'", "found '=='"],
    ['a == "x', 7, 'a closing "', "(for the string at position 5)"],
    ["`a == 1", 7, "a closing `", "(for the name at position 0)"],
    ['a == "\\x"', 6, "an escape (\\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)", "found '\\x'"],
    ['a == "\\u12"', 6, "an escape (\\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)", "found '\\u'"],
    ["a & b", 2, "'&&'", "found '&'"],
    ["a | b", 2, "'||'", "found '|'"],
    ["a # 1", 2, "a field, a value, an operator or a parenthesis", "found '#'"],
    ["a == 1 and é == 2", 11, "a field, a value, an operator or a parenthesis", "found 'é'"],
    ["a == 1 or 😀 == 2", 10, "a field, a value, an operator or a parenthesis", "found '😀'"],
    ["a startsWith", 12, "a value (a string, a number, true or false)", "after 'startsWith'"],
    ["not", 3, "a field, 'not', 'exists(' or '('", "found the end of the query"],
  ];
  it.each(cases)("%j", (text, position, expected, fragment) => {
    const err = error(text);
    expect(err.position).toBe(position);
    expect(err.expected).toBe(expected);
    expect(err.message).toContain(fragment);
    expect(err.message).toContain(`expected ${expected}`);
    expect(err.message).toContain(`at position ${position}`);
    expect(err.name).toBe("QueryError");
    expect(err.parameter).toBe("metadataQuery");
  });

  it("reports the first error in reading order", () => {
    expect(error("a == 1 b # c").position).toBe(7);
  });

  it("shortens long found text", () => {
    const err = error(`a == 1 ${"x".repeat(100)}`);
    expect(err.message).toContain(`found '${"x".repeat(37)}...'`);
  });
});

describe("parseQuery: limits", () => {
  it("allows 64 levels of nesting, not 65", () => {
    expect(() => parseQuery(`${"(".repeat(64)}a == 1${")".repeat(64)}`)).not.toThrow();
    const err = error(`${"(".repeat(65)}a == 1${")".repeat(65)}`);
    expect(err.position).toBe(64);
    expect(err.expected).toBe("at most 64 levels of nesting");
    expect(() => parseQuery(`${"not ".repeat(63)}a == 1`)).not.toThrow();
    expect(error(`${"not ".repeat(65)}a == 1`).expected).toBe("at most 64 levels of nesting");
    // The tree's own depth counts too: 64 nested and-nodes above a comparison is one too many.
    const deep = Array.from({ length: 64 }, () => "a == 1 and (").join("") + "a == 1" + ")".repeat(64);
    expect(error(deep).message).toContain("deeper than 64 levels");
  });

  it("allows 1000 conditions, not 1001", () => {
    const conditions = (n: number) => Array.from({ length: n }, (_, i) => `k == ${i}`).join(" or ");
    expect(() => parseQuery(conditions(999))).not.toThrow();
    expect(error(conditions(1001)).expected).toBe("at most 1000 conditions");
  });

  it("allows 1000 values in a list, not 1001", () => {
    const list = (n: number) => `k in [${Array.from({ length: n }, (_, i) => i).join(", ")}]`;
    expect((parseQuery(list(1000)) as { values: number[] }).values).toHaveLength(1000);
    const err = error(list(1001));
    expect(err.expected).toBe("at most 1000 values in a list");
    expect(err.position).toBe(list(1001).lastIndexOf("1000"));
  });

  it("survives pathological input without a stack overflow", () => {
    expect(error("(".repeat(100_000)).expected).toBe("at most 64 levels of nesting");
    expect(error("!".repeat(100_000)).expected).toBe("at most 64 levels of nesting");
  });
});

describe("parseQuery: type checks", () => {
  const cases: [string, string, number, string][] = [
    ['metadata.fileSize == "big"', "a number", 21, "metadata.fileSize"],
    ["metadata.width in [1, true]", "a number", 22, "metadata.width"],
    ['metadata.annotations.withTag.car > "x"', "a number", 35, "metadata.annotations.withTag.car"],
    ["filename == 3", "a string", 12, "filename"],
    ['assetId in ["a", false]', "a string", 17, "assetId"],
    ["metadata.status == true", "a string", 19, "metadata.status"],
    ["k < true", "a string or a number (true and false have no order)", 4, "k"],
    ["filename >= false", "a string or a number (true and false have no order)", 12, "filename"],
    [
      'metadata.timeCreated > "not a date"',
      "a number of epoch milliseconds or an ISO-8601 date string",
      23,
      "metadata.timeCreated",
    ],
    [
      "metadata.timeCreated == true",
      "a number of epoch milliseconds or an ISO-8601 date string",
      24,
      "metadata.timeCreated",
    ],
    ["k startsWith 1", "a string", 13, "k"],
    ["k contains true", "a string", 11, "k"],
    ['metadata.fileSize startsWith "1"', "a string field or a custom key", 18, "metadata.fileSize"],
    ['metadata.timeCreated contains "2024"', "a string field or a custom key", 21, "metadata.timeCreated"],
    [
      'metadata.annotations.withTag.car contains "x"',
      "a string field or a custom key",
      33,
      "metadata.annotations.withTag.car",
    ],
  ];
  it.each(cases)("%j", (text, expected, position, field) => {
    const err = error(text);
    expect(err.expected).toBe(expected);
    expect(err.position).toBe(position);
    expect(err.field).toBe(field);
    expect(err.message).toContain(`at position ${position}`);
  });

  it("names the field and the value in the message", () => {
    expect(error('metadata.fileSize == "big"').message).toBe(
      `expected a number for 'metadata.fileSize' at position 21, found '"big"'`,
    );
  });

  it("takes ISO-8601 dates for time fields, as epoch milliseconds", () => {
    expect(parseQuery('metadata.timeCreated >= "2024-01-01T00:00:00Z"')).toEqual({
      type: "compare",
      field: { kind: "builtin", name: "metadata.timeCreated" },
      op: ">=",
      value: Date.UTC(2024, 0, 1),
    });
    expect(parseQuery('metadata.lastUpdated in ["1970-01-01T00:00:00.000Z", 5]')).toEqual({
      type: "in",
      field: { kind: "builtin", name: "metadata.lastUpdated" },
      values: [0, 5],
    });
  });

  it("reads only ISO-8601 shapes as dates", () => {
    const time = (s: string) => (parseQuery(`metadata.timeCreated == "${s}"`) as { value: number }).value;
    expect(time("2024-06-01")).toBe(Date.UTC(2024, 5, 1));
    expect(time("2024-06-01T12:30:00.5Z")).toBe(Date.UTC(2024, 5, 1, 12, 30, 0, 500));
    expect(time("2024-06-01T14:30+02:00")).toBe(Date.UTC(2024, 5, 1, 12, 30));
    for (const s of ["1", "2024", "June 1, 2024", "2024/06/01", "2024-13-01", "2024-06-01T25:00Z"])
      expect(error(`metadata.timeCreated == "${s}"`).expected, s).toBe(
        "a number of epoch milliseconds or an ISO-8601 date string",
      );
  });

  it("refuses strings that no database stores: U+0000 and unpaired surrogates", () => {
    const nul = error('k == "a\\u0000"');
    expect(nul.expected).toBe("a string without U+0000 or unpaired surrogates");
    expect(nul.position).toBe(5);
    expect(error('k in ["ok", "\\ud800"]').position).toBe(12);
    expect(error('k startsWith "\\udc00x"').expected).toBe("a string without U+0000 or unpaired surrogates");
    const key = error('exists(["\\u0000"])');
    expect(key.expected).toBe("a name without U+0000 or unpaired surrogates");
    expect(key.position).toBe(7);
    expect(error('metadata.annotations.withTag["\\ud83d"] > 1').position).toBe(0);
    expect(() => parseQuery('k == "\\ud83d\\ude00"')).not.toThrow();
  });

  it("lets custom keys take any type, and exists any field", () => {
    expect(() => parseQuery('k == 1 or k == "1" or k == true or k < "x" or k > 2 or k startsWith "x"')).not.toThrow();
    expect(() => parseQuery("exists(metadata.fileSize) and exists(metadata.annotations.withTag.x)")).not.toThrow();
    expect(() => parseQuery('metadata.uploadStatus == "completed" and filename < "m"')).not.toThrow();
  });
});

describe("printQuery", () => {
  const roundTrip = (text: string, printed: string) => {
    const tree = parseQuery(text);
    expect(printQuery(tree)).toBe(printed);
    expect(parseQuery(printed)).toEqual(tree);
  };

  it("prints canonical text that parses back to the same tree", () => {
    roundTrip("a=1 && (b=2 || !c=3)", "a == 1 and (b == 2 or not c == 3)");
    roundTrip("a == 1 and (b == 2 and c == 3)", "a == 1 and (b == 2 and c == 3)");
    roundTrip("(a == 1 or b == 2) or c == 3", "(a == 1 or b == 2) or c == 3");
    roundTrip("not (a == 1 and b == 2)", "not (a == 1 and b == 2)");
    roundTrip("not not exists(a)", "not not exists(a)");
    roundTrip("k in ['x', 1, TRUE]", 'k in ["x", 1, true]');
    roundTrip("k == 'a\"b\\n'", 'k == "a\\"b\\n"');
  });

  it("quotes keys that need it", () => {
    roundTrip("`my key` == 1", '["my key"] == 1');
    roundTrip("metadata.customMetadata.owner == 1", "metadata.customMetadata.owner == 1");
    roundTrip("`not` == 1", "metadata.customMetadata.not == 1");
    roundTrip("a.b == 1", "a.b == 1");
    roundTrip('["a..b"] == 1', '["a..b"] == 1');
    roundTrip('metadata.customMetadata["metadata.fileSize"] == 1', "metadata.customMetadata.metadata.fileSize == 1");
    roundTrip('metadata.annotations.withTag["traffic light"] > 0', 'metadata.annotations.withTag["traffic light"] > 0');
    roundTrip('[""] == 1', '[""] == 1');
  });

  it("prints time literals as the epoch milliseconds they became", () => {
    roundTrip('metadata.timeCreated < "1970-01-01T00:00:01Z"', "metadata.timeCreated < 1000");
  });
});
