import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseFilter, parseQuery, QueryError } from "../src/query/index.js";

/** docs/query-language.md stays true: its examples parse, its error messages are the real ones. */
const doc = readFileSync(new URL("../../../docs/query-language.md", import.meta.url), "utf8");

/** The rows of the first table after `heading` (cells, without the header and rule rows). */
function table(heading: string): string[][] {
  const start = doc.indexOf(heading);
  expect(start).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The code spans of a cell: `x` and ``` `x` ``` alike. */
const code = (cell: string) => [...cell.matchAll(/``` (.+?) ```|`([^`]+)`/g)].map((m) => (m[1] ?? m[2]) as string);

function failure(f: () => unknown): QueryError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(QueryError);
    return err as QueryError;
  }
  throw new Error("no error");
}

describe("docs/query-language.md", () => {
  it("has quick examples that parse", () => {
    const rows = table("## Quick examples");
    expect(rows.length).toBeGreaterThan(10);
    for (const [, query] of rows)
      for (const text of code(query as string)) expect(() => parseQuery(text), text).not.toThrow();
  });

  it("shows the real messages of metadataQuery errors", () => {
    const rows = table("| Input | Message |");
    expect(rows.length).toBeGreaterThan(10);
    for (const [input, message] of rows) {
      const text = code(input as string)[0] as string;
      const shown = (message as string).replace(/\\([<>])/g, "$1");
      const actual = failure(() => parseQuery(text)).message;
      if (shown.includes("...")) expect(actual.startsWith(shown.split("...")[0] as string), text).toBe(true);
      else expect(actual, text).toBe(shown);
    }
  });

  it("shows the real messages of filter errors", () => {
    const rows = table("| `filter` | Message |");
    expect(rows.length).toBeGreaterThan(4);
    for (const [input, message] of rows) {
      const text = code(input as string)[0] as string;
      expect(failure(() => parseFilter(text)).message, text).toBe(message);
    }
  });

  it("has filter examples that mean what their query column says", () => {
    expect(parseFilter({ customMetadata: { camera: "front", ok: true, score: { gte: 0.5 }, n: [1, 2] } })).toEqual(
      parseQuery('camera == "front" and ok == true and score >= 0.5 and n in [1, 2]'),
    );
    expect(parseFilter({ width: { gte: 100, lt: 200 } })).toEqual(
      parseQuery("metadata.width >= 100 and metadata.width < 200"),
    );
    expect(parseFilter({ timeCreated: { gte: "2024-01-01", lt: 1735689600000 } })).toEqual(
      parseQuery('metadata.timeCreated >= "2024-01-01" and metadata.timeCreated < 1735689600000'),
    );
  });
});
