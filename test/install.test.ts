import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
// The semver package npm itself judges `engines` with (installed for fastify), untyped here.
const semver = createRequire(join(ROOT, "package.json"))("semver") as {
  satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean;
  minVersion(range: string): { version: string } | null;
};

interface LockEntry {
  version?: string;
  /** An object in every current package; a few old ones have an array there, which npm ignores. */
  engines?: { node?: string } | string[];
  optional?: boolean;
}
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, LockEntry>;
};

describe("npm install on this Node", () => {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
  const oldest = semver.minVersion(root.engines.node)!.version;

  /** The locked packages whose `engines` refuse `version` (npm warns EBADENGINE at install for each). */
  const refusing = (version: string) =>
    Object.entries(lock.packages).flatMap(([path, entry]) => {
      const range = path === "" || Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      return range === undefined || semver.satisfies(version, range, { includePrerelease: true })
        ? []
        : [`${path}@${entry.version}: node ${range}`];
    });

  it("every locked package's engines accept the running Node", () => {
    expect(refusing(process.version)).toEqual([]);
  });

  it("every locked package's engines accept the oldest Node the README and package.json promise", () => {
    expect(oldest).toBe("20.19.0");
    expect(refusing(oldest)).toEqual([]);
  });

  it("fastify's light-my-request gets a cookie that runs on Node 20 and has what it calls", async () => {
    const entry = lock.packages["node_modules/light-my-request/node_modules/cookie"];
    expect(entry?.version).toBe("1.1.1");
    const fromLightMyRequest = createRequire(
      createRequire(join(ROOT, "packages", "server", "package.json")).resolve("fastify"),
    );
    const cookie = createRequire(fromLightMyRequest.resolve("light-my-request"))("cookie") as Record<string, unknown>;
    expect(typeof cookie.stringifySetCookie).toBe("function");
  });
});
