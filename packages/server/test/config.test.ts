import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.js";

describe("the database setting", () => {
  it("is unset by default (embedded SQLite), taken from VI_DATABASE_URL, and an option wins", () => {
    expect(resolveConfig({}, {}).databaseUrl).toBeUndefined();
    expect(resolveConfig({}, { VI_DATABASE_URL: "" }).databaseUrl).toBeUndefined();
    expect(resolveConfig({}, { VI_DATABASE_URL: "postgres://a@h/db" }).databaseUrl).toBe("postgres://a@h/db");
    expect(
      resolveConfig({ databaseUrl: "postgresql://b@h/db" }, { VI_DATABASE_URL: "postgres://a@h/db" }).databaseUrl,
    ).toBe("postgresql://b@h/db");
  });

  it("refuses what is not a PostgreSQL URL, without echoing it (it may hold a password)", () => {
    expect(() => resolveConfig({}, { VI_DATABASE_URL: "mysql://u:hunter2@h/db" })).toThrow(/PostgreSQL URL/);
    expect(() => resolveConfig({}, { VI_DATABASE_URL: "mysql://u:hunter2@h/db" })).not.toThrow(/hunter2/);
  });
});
