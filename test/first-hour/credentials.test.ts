import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, userEnv, viCli, type Served } from "./helpers.js";

/** Where the real CLI finds the credentials `vi-cli serve` wrote, and what it says when it cannot. */
describe("vi-cli finds vi-data/credentials.json upward, and its hints fit the error", () => {
  let home: string;
  let server: Served;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "vi-credentials-"));
    env = userEnv(home);
    server = await serve(join(home), env);
    await mkdir(join(home, "photos", "2024"), { recursive: true });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("from a subfolder of the one holding vi-data, it uses that server", async () => {
    const created = await viCli(["datasets", "create", "from below", "--json"], join(home, "photos", "2024"), env);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const listed = await viCli(["datasets", "list"], home, env);
    expect(listed.stdout).toContain("from below");
  });

  it("with no credentials anywhere above: where to run from or what to set, not `serve` in this folder", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "vi-nowhere-"));
    try {
      const r = await viCli(["datasets", "list"], elsewhere, userEnv(elsewhere));
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`there is no vi-data/credentials.json in ${elsewhere} or any folder above it`);
      expect(r.stderr).toMatch(
        /^hint: run vi-cli from the folder where the server keeps vi-data\/ \(where you ran `npm start` or `vi-cli serve`\) or from a folder below it; or pass --config <file>/m,
      );
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("a malformed key: copy it whole again; nothing about starting a server", async () => {
    const r = await viCli(["datasets", "list"], home, {
      ...env,
      DATATURE_VI_SECRET_KEY: "dtvi_tooshort",
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: the secret key from DATATURE_VI_SECRET_KEY is malformed/m);
    expect(r.stderr).toMatch(/^hint: copy the key whole again: it is dtvi_ and 98 more characters/m);
    expect(r.stderr).not.toMatch(/vi-cli serve|npm start/);
  });

  it("a --config file that is not JSON: check that file", async () => {
    await writeFile(join(home, "creds.json"), "{not json");
    const r = await viCli(["--config", "creds.json", "datasets", "list"], home, env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^hint: check that file: the server writes it as JSON/m);
  });

  it("`vi-cli serve` in a subfolder warns that it starts a second server with its own organization", async () => {
    const second = await serve(join(home, "photos"), env);
    await second.stop();
    expect(second.stderr).toContain(
      `warning: ${join(home, "vi-data", "credentials.json")} is in a folder above: this is a second server, with an organization of its own. To use that one instead, stop this one and run vi-cli from ${home}.`,
    );
    // The first start in a folder only: the server of this folder is this folder's from then on.
    const again = await serve(join(home, "photos"), env);
    await again.stop();
    expect(again.stderr).not.toContain("warning");
  });
});
