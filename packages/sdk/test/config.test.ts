import { chownSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Client, findCredentialsFile, resolveConfig } from "../src/client.js";
import { ViConfigurationError } from "../src/core/errors.js";
import { SECRET_KEY } from "./helpers/server.js";

const OTHER_KEY = `dtvi_${"Z".repeat(98)}`;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vi-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const env = (vars: Record<string, string>): NodeJS.ProcessEnv => vars;

function errorOf(fn: () => unknown): ViConfigurationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ViConfigurationError);
    return error as ViConfigurationError;
  }
  throw new Error("expected a ViConfigurationError");
}

describe("config resolution", () => {
  it("takes explicit options over environment variables", () => {
    const config = resolveConfig(
      { secretKey: SECRET_KEY, organizationId: "opt-org", endpoint: "http://opt:1" },
      env({
        DATATURE_VI_SECRET_KEY: OTHER_KEY,
        DATATURE_VI_ORGANIZATION_ID: "env-org",
        DATATURE_VI_API_ENDPOINT: "http://env:2",
      }),
      dir,
    );
    expect(config).toMatchObject({ secretKey: SECRET_KEY, organizationId: "opt-org", origin: "http://opt:1" });
  });

  it("takes environment variables over a config file, and the file for what they lack", () => {
    const file = join(dir, "c.json");
    writeFileSync(
      file,
      JSON.stringify({ secret_key: SECRET_KEY, organization_id: "file-org", endpoint: "http://file:3" }),
    );
    const config = resolveConfig({ configFile: file }, env({ DATATURE_VI_ORGANIZATION_ID: "env-org" }), dir);
    expect(config).toMatchObject({ secretKey: SECRET_KEY, organizationId: "env-org", origin: "http://file:3" });
  });

  it("reads VI_CONFIG_FILE, then $VI_DATA_DIR/credentials.json, then ./vi-data/credentials.json", () => {
    const named = join(dir, "named.json");
    writeFileSync(named, JSON.stringify({ secretKey: SECRET_KEY, organizationId: "named" }));
    expect(resolveConfig({}, env({ VI_CONFIG_FILE: named }), dir).organizationId).toBe("named");

    mkdirSync(join(dir, "data"));
    writeFileSync(
      join(dir, "data", "credentials.json"),
      JSON.stringify({ secretKey: SECRET_KEY, organizationId: "datadir" }),
    );
    expect(resolveConfig({}, env({ VI_DATA_DIR: join(dir, "data") }), dir).organizationId).toBe("datadir");

    mkdirSync(join(dir, "vi-data"));
    writeFileSync(
      join(dir, "vi-data", "credentials.json"),
      JSON.stringify({ secretKey: SECRET_KEY, organizationId: "local", endpoint: "http://127.0.0.1:9999/api" }),
    );
    const local = resolveConfig({}, env({}), dir);
    expect(local.organizationId).toBe("local");
    // A path prefix of the endpoint is dropped: the API lives at the host root.
    expect(local.origin).toBe("http://127.0.0.1:9999");
  });

  it("finds vi-data/credentials.json in a folder above, the nearest first, as git finds .git", () => {
    const credentials = (org: string) => JSON.stringify({ secretKey: SECRET_KEY, organizationId: org });
    mkdirSync(join(dir, "vi-data"));
    writeFileSync(join(dir, "vi-data", "credentials.json"), credentials("top"));
    mkdirSync(join(dir, "project", "photos", "2024"), { recursive: true });
    expect(resolveConfig({}, env({}), join(dir, "project", "photos", "2024")).organizationId).toBe("top");
    mkdirSync(join(dir, "project", "vi-data"));
    writeFileSync(join(dir, "project", "vi-data", "credentials.json"), credentials("nearer"));
    expect(resolveConfig({}, env({}), join(dir, "project", "photos", "2024")).organizationId).toBe("nearer");
    expect(findCredentialsFile(join(dir, "project", "photos"))).toBe(
      join(dir, "project", "vi-data", "credentials.json"),
    );
    // $VI_DATA_DIR names the one to use: no looking upward then.
    const err = errorOf(() => resolveConfig({}, env({ VI_DATA_DIR: join(dir, "elsewhere") }), join(dir, "project")));
    expect(err.message).toContain(`there is no ${join(dir, "elsewhere", "credentials.json")}`);
  });

  it.skipIf(process.getuid?.() !== 0)("does not use a credentials file found above that another user owns", () => {
    mkdirSync(join(dir, "vi-data"));
    const file = join(dir, "vi-data", "credentials.json");
    writeFileSync(file, JSON.stringify({ secretKey: SECRET_KEY, organizationId: "theirs" }));
    chownSync(file, 4242, 4242);
    mkdirSync(join(dir, "mine"));
    const err = errorOf(() => resolveConfig({}, env({}), join(dir, "mine")));
    expect(err.message).toContain(`found the credentials file ${file}, but it belongs to another user (uid 4242)`);
    expect(err.details).toMatchObject({ problem: "foreign", configFile: file });
    // Named, it is the caller's choice.
    expect(resolveConfig({ configFile: file }, env({}), join(dir, "mine")).organizationId).toBe("theirs");
  });

  it("says what is missing, where it looked, and what to do; a malformed key gets another hint", () => {
    mkdirSync(join(dir, "sub"));
    const missing = errorOf(() => resolveConfig({}, env({}), join(dir, "sub")));
    expect(missing.message).toBe(
      `no secret key: none was given through the option, DATATURE_VI_SECRET_KEY, or a config file (configFile, VI_CONFIG_FILE, $VI_DATA_DIR/credentials.json): there is no vi-data/credentials.json in ${join(dir, "sub")} or any folder above it`,
    );
    expect(missing.details).toMatchObject({ problem: "missing", setting: "secretKey" });
    expect(missing.suggestion).toMatch(
      /^start the server \(npm start, or vi-cli serve\) in the folder that is to hold vi-data\//,
    );
    const malformed = errorOf(() => resolveConfig({ secretKey: "dtvi_short", organizationId: "o" }, env({}), dir));
    expect(malformed.details).toMatchObject({ problem: "malformed", setting: "secretKey" });
    expect(malformed.suggestion).toMatch(/copy it whole again/);
    expect(malformed.suggestion).not.toMatch(/vi-cli serve|npm start/);
  });

  it("defaults the endpoint and the timeouts", () => {
    const config = resolveConfig(
      {},
      env({ DATATURE_VI_SECRET_KEY: SECRET_KEY, DATATURE_VI_ORGANIZATION_ID: "o" }),
      dir,
    );
    expect(config).toEqual({
      secretKey: SECRET_KEY,
      organizationId: "o",
      origin: "http://127.0.0.1:8080",
      timeout: 60_000,
      maxRetries: 3,
    });
  });

  it("refuses a malformed key without echoing it", () => {
    const bad = `dtvi_${"x".repeat(40)}`;
    const err = errorOf(() => resolveConfig({ secretKey: bad, organizationId: "o" }, env({}), dir));
    expect(err.message).toContain("malformed");
    expect(err.message).toContain("the secretKey option");
    expect(err.message).not.toContain(bad);
    const fromEnv = errorOf(() =>
      resolveConfig(
        {},
        env({ DATATURE_VI_SECRET_KEY: `sk_${"a".repeat(100)}`, DATATURE_VI_ORGANIZATION_ID: "o" }),
        dir,
      ),
    );
    expect(fromEnv.message).toContain("DATATURE_VI_SECRET_KEY");
    expect(errorOf(() => new Client({ secretKey: `dtvi_${"é".repeat(98)}`, organizationId: "o" })).code).toBe(
      "ConfigurationError",
    );
  });

  it("names what is missing or malformed", () => {
    expect(errorOf(() => resolveConfig({ organizationId: "o" }, env({}), dir)).message).toMatch(/no secret key/);
    expect(errorOf(() => resolveConfig({ secretKey: SECRET_KEY }, env({}), dir)).message).toMatch(/no organization id/);
    expect(
      errorOf(() => resolveConfig({ secretKey: SECRET_KEY, organizationId: "a_b" }, env({}), dir)).message,
    ).toMatch(/organization id/);
    expect(
      errorOf(() => resolveConfig({ secretKey: SECRET_KEY, organizationId: "o", endpoint: "ftp://x" }, env({}), dir))
        .message,
    ).toMatch(/endpoint/);
    expect(errorOf(() => resolveConfig({ configFile: join(dir, "nope.json") }, env({}), dir)).message).toMatch(
      /does not exist/,
    );
    writeFileSync(join(dir, "bad.json"), "{not json");
    expect(errorOf(() => resolveConfig({ configFile: join(dir, "bad.json") }, env({}), dir)).message).toContain(
      "bad.json",
    );
    expect(
      errorOf(() => resolveConfig({ secretKey: SECRET_KEY, organizationId: "o", timeout: 0 }, env({}), dir)).message,
    ).toMatch(/timeout/);
  });
});
