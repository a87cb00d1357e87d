import { describe, expect, it } from "vitest";
import { parseFilter, parseQuery, printQuery, QueryError, selection } from "../src/query/index.js";

/** The filter as metadataQuery text: every filter field is the same tree as some query. */
const asQuery = (raw: string | object) => {
  const tree = parseFilter(raw);
  return tree && printQuery(tree);
};

function error(raw: string | object): QueryError {
  try {
    parseFilter(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(QueryError);
    expect((err as QueryError).parameter).toBe("filter");
    return err as QueryError;
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
}

describe("parseFilter: fields", () => {
  it("status, uploadStatus, mimeType: a string or any of a list", () => {
    expect(asQuery({ status: "error" })).toBe('metadata.status == "error"');
    expect(asQuery({ status: ["error", "uploaded"] })).toBe('metadata.status in ["error", "uploaded"]');
    expect(asQuery({ uploadStatus: "completed" })).toBe('metadata.uploadStatus == "completed"');
    expect(asQuery({ mimeType: ["image/png"] })).toBe('metadata.mimeType in ["image/png"]');
  });

  it("filename: exact, eq or prefix", () => {
    expect(asQuery({ filename: "cats/1.jpg" })).toBe('filename == "cats/1.jpg"');
    expect(asQuery({ filename: { eq: "cats/1.jpg" } })).toBe('filename == "cats/1.jpg"');
    expect(asQuery({ filename: { prefix: "cats/" } })).toBe('filename startsWith "cats/"');
  });

  it("numbers: exact or a range", () => {
    expect(asQuery({ fileSize: 10 })).toBe("metadata.fileSize == 10");
    expect(asQuery({ width: { gte: 100, lt: 200 } })).toBe("metadata.width >= 100 and metadata.width < 200");
    expect(asQuery({ height: { gt: 1, lte: 2.5 } })).toBe("metadata.height > 1 and metadata.height <= 2.5");
    expect(asQuery({ frames: { gt: 1 } })).toBe("metadata.frames > 1");
    expect(asQuery({ annotationCount: 0 })).toBe("metadata.annotations.total == 0");
  });

  it("timeCreated: epoch milliseconds or ISO-8601 dates", () => {
    expect(asQuery({ timeCreated: { gte: "2024-01-01T00:00:00Z", lt: 1_800_000_000_000 } })).toBe(
      `metadata.timeCreated >= ${Date.UTC(2024, 0, 1)} and metadata.timeCreated < 1800000000000`,
    );
    expect(asQuery({ timeCreated: "1970-01-01T00:00:01Z" })).toBe("metadata.timeCreated == 1000");
  });

  it("hasTag and lacksTag", () => {
    expect(asQuery({ hasTag: "car" })).toBe("exists(metadata.annotations.withTag.car)");
    expect(asQuery({ hasTag: ["car", "traffic light"] })).toBe(
      'exists(metadata.annotations.withTag.car) and exists(metadata.annotations.withTag["traffic light"])',
    );
    expect(asQuery({ lacksTag: ["car", "bus"] })).toBe(
      "not exists(metadata.annotations.withTag.car) and not exists(metadata.annotations.withTag.bus)",
    );
  });

  it("assetIds", () => {
    expect(asQuery({ assetIds: ["a", "b"] })).toBe('assetId in ["a", "b"]');
  });

  it("customMetadata: values, lists and numeric ranges", () => {
    expect(asQuery({ customMetadata: { camera: "front", ok: true, score: { gte: 0.5 }, n: [1, "1"] } })).toBe(
      'camera == "front" and ok == true and score >= 0.5 and n in [1, "1"]',
    );
    expect(asQuery({ customMetadata: { owner: 1, "my key": "x" } })).toBe(
      'metadata.customMetadata.owner == 1 and ["my key"] == "x"',
    );
    expect(asQuery({ customMetadata: {} })).toBeUndefined();
  });

  it("ANDs the fields, one flat node", () => {
    expect(parseFilter({ status: "error", fileSize: { gt: 1, lt: 9 } })).toEqual(
      parseQuery('metadata.status == "error" and metadata.fileSize > 1 and metadata.fileSize < 9'),
    );
  });

  it("keeps a key named __proto__ as data", () => {
    expect(asQuery('{"customMetadata": {"__proto__": 1}}')).toBe("__proto__ == 1");
    expect(asQuery("{'customMetadata': {'__proto__': 1}}")).toBe("__proto__ == 1");
  });
});

describe("parseFilter: text forms", () => {
  it("reads JSON text", () => {
    expect(asQuery('{"status": "error"}')).toBe('metadata.status == "error"');
  });

  it("reads the Python client's str(dict)", () => {
    expect(asQuery("{'status': 'error', 'customMetadata': {'ok': True, 'gone': False, 'n': -1.5e3}}")).toBe(
      'metadata.status == "error" and ok == true and gone == false and n == -1500',
    );
    expect(asQuery(`{'filename': "it's", 'hasTag': ('a', 'b',)}`)).toBe(
      'filename == "it\'s" and exists(metadata.annotations.withTag.a) and exists(metadata.annotations.withTag.b)',
    );
    expect(asQuery("{'customMetadata': {'k': 'caf\\xe9 \\u00e9 \\U0001f600 \\'q\\' \\n'}}")).toBe(
      "k == \"café é 😀 'q' \\n\"",
    );
    expect(asQuery("{'assetIds': ['a',]}")).toBe('assetId in ["a"]');
  });

  it("treats blank text and empty objects as no filter", () => {
    expect(parseFilter("")).toBeUndefined();
    expect(parseFilter("   ")).toBeUndefined();
    expect(parseFilter("{}")).toBeUndefined();
    expect(parseFilter({})).toBeUndefined();
  });

  it("refuses anything that is not an object", () => {
    for (const raw of ["[]", "null", "1", '"status"', "status=error", "{'a': 1", "{status: 'x'}", "{'a': inf}"]) {
      const err = error(raw);
      expect(err.expected, raw).toBe("a JSON object");
    }
    expect(error("{'a': 1").message).toContain("at position 7");
    expect(error("{'a': 1").position).toBe(7);
    expect(error([1]).message).toContain("found an array");
    expect(error("[1]").message).toContain("filter must be a JSON object");
  });
});

describe("parseFilter: errors name the field and what it allows", () => {
  const cases: [unknown, string, RegExp][] = [
    [{ nope: 1 }, "nope", /unknown filter field 'nope'; the filter fields are status, uploadStatus, mimeType/],
    [{ status: 1 }, "status", /a string or a non-empty array of strings/],
    [{ status: [] }, "status", /a string or a non-empty array of strings/],
    [{ status: ["a", 1] }, "status", /a string or a non-empty array of strings/],
    [{ status: null }, "status", /a string or a non-empty array of strings/],
    [{ mimeType: {} }, "mimeType", /a string or a non-empty array/],
    [{ filename: 1 }, "filename", /a string \(the exact name\), \{"eq": "name"\} or \{"prefix": "folder\/"\}/],
    [{ filename: {} }, "filename", /"prefix"/],
    [{ filename: { like: "x" } }, "filename", /"prefix"/],
    [{ filename: { prefix: 1 } }, "filename", /"prefix"/],
    [{ fileSize: "1" }, "fileSize", /a number or a range object/],
    [{ fileSize: {} }, "fileSize", /gt, gte, lt, lte/],
    [{ width: { gte: "1" } }, "width.gte", /numbers/],
    [{ height: { between: [1, 2] } }, "height", /a range object/],
    [{ frames: true }, "frames", /a number/],
    [{ annotationCount: [1] }, "annotationCount", /a number/],
    [{ timeCreated: "yesterday" }, "timeCreated", /ISO-8601/],
    [{ timeCreated: { gt: "soon" } }, "timeCreated.gt", /ISO-8601/],
    [{ timeCreated: { gt: true } }, "timeCreated.gt", /epoch milliseconds/],
    [{ timeCreated: "1" }, "timeCreated", /ISO-8601/],
    [{ hasTag: [] }, "hasTag", /a tag name or a non-empty array of tag names/],
    [{ lacksTag: 3 }, "lacksTag", /a tag name or a non-empty array/],
    [{ assetIds: "a" }, "assetIds", /a non-empty array of at most 1000 asset ids/],
    [{ assetIds: [] }, "assetIds", /non-empty array/],
    [{ assetIds: [1] }, "assetIds", /asset ids \(strings\)/],
    [{ assetIds: Array.from({ length: 1001 }, (_, i) => `a${i}`) }, "assetIds", /at most 1000/],
    [{ customMetadata: [] }, "customMetadata", /an object of custom metadata keys/],
    [{ customMetadata: "x" }, "customMetadata", /an object/],
    [{ customMetadata: { k: null } }, "customMetadata.k", /a string, number or boolean/],
    [{ customMetadata: { k: [] } }, "customMetadata.k", /a non-empty array/],
    [{ customMetadata: { k: [{}] } }, "customMetadata.k", /a string, number or boolean/],
    [{ customMetadata: { k: { gte: "a" } } }, "customMetadata.k.gte", /numeric range/],
    [{ customMetadata: { k: { eq: 1 } } }, "customMetadata.k", /numeric range/],
  ];
  it.each(cases)("%j", (raw, field, message) => {
    const err = error(raw as object);
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`'${field}'`);
  });

  it("refuses strings that no database stores", () => {
    expect(error({ status: "a\u0000" }).expected).toBe("a string without U+0000 or unpaired surrogates");
    expect(error({ customMetadata: { "\ud800": 1 } }).expected).toBe("a name without U+0000 or unpaired surrogates");
  });

  it("counts conditions against the limit", () => {
    const tags = Array.from({ length: 1001 }, (_, i) => `t${i}`);
    expect(error({ hasTag: tags }).message).toContain("more than 1000 conditions");
  });
});

describe("selection", () => {
  it("is undefined when nothing selects", () => {
    expect(selection({})).toBeUndefined();
    expect(selection({ filter: null, metadataQuery: null })).toBeUndefined();
    expect(selection({ filter: "", metadataQuery: "  " })).toBeUndefined();
    expect(selection({ filter: "{}", metadataQuery: "" })).toBeUndefined();
    expect(selection({ filter: {} })).toBeUndefined();
  });

  it("is either input alone, or the AND of both", () => {
    expect(selection({ filter: { status: "error" } })).toEqual(parseQuery('metadata.status == "error"'));
    expect(selection({ metadataQuery: "a == 1" })).toEqual(parseQuery("a == 1"));
    expect(selection({ filter: '{"fileSize": {"gt": 1}}', metadataQuery: "a == 1 or b == 2" })).toEqual(
      parseQuery("metadata.fileSize > 1 and (a == 1 or b == 2)"),
    );
    expect(selection({ filter: { hasTag: ["x", "y"] }, metadataQuery: "a == 1 and b == 2" })).toEqual(
      parseQuery(
        "exists(metadata.annotations.withTag.x) and exists(metadata.annotations.withTag.y) and a == 1 and b == 2",
      ),
    );
  });

  it("says which parameter is wrong", () => {
    expect(() => selection({ filter: { nope: 1 }, metadataQuery: "a == 1" })).toThrow(
      expect.objectContaining({ parameter: "filter", field: "nope" }),
    );
    expect(() => selection({ filter: { status: "x" }, metadataQuery: "a ==" })).toThrow(
      expect.objectContaining({ parameter: "metadataQuery", position: 4 }),
    );
  });
});
