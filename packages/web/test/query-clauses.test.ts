import { describe, expect, it } from "vitest";
import { clauseValue, withClause } from "../src/components/query-clauses.js";

describe("the filter controls' clauses in the query", () => {
  const field = "metadata.mimeType";

  it("adds a clause to an empty query and to one that has others", () => {
    expect(withClause("", field, "image/png")).toBe('metadata.mimeType == "image/png"');
    expect(withClause("score > 0.5", field, "image/png")).toBe('score > 0.5 and metadata.mimeType == "image/png"');
  });

  it("keeps an `or` query's meaning by parenthesising it", () => {
    expect(withClause("a == 1 or b == 2", field, "image/gif")).toBe(
      '(a == 1 or b == 2) and metadata.mimeType == "image/gif"',
    );
  });

  it("replaces the clause it wrote before, wherever it stands, and removes it for 'any'", () => {
    const q = 'metadata.mimeType == "image/png" and score > 0.5';
    expect(withClause(q, field, "image/gif")).toBe('score > 0.5 and metadata.mimeType == "image/gif"');
    expect(withClause(q, field, "")).toBe("score > 0.5");
    expect(withClause('a == 1 and metadata.mimeType == "image/png" and b == 2', field, undefined)).toBe(
      "a == 1 and b == 2",
    );
  });

  it("reads back the value its clause holds, escapes included", () => {
    expect(clauseValue('x == 1 and metadata.status == "error"', "metadata.status")).toBe("error");
    expect(clauseValue("x == 1", "metadata.status")).toBeUndefined();
    const q = withClause("", "camera", 'say "hi"');
    expect(q).toBe('camera == "say \\"hi\\""');
    expect(clauseValue(q, "camera")).toBe('say "hi"');
  });
});
