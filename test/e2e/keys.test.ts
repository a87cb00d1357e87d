import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPaths, type SecretKeySummary } from "@vi/protocol";
import { Client, ViAuthenticationError, ViConflictError, ViNotFoundError } from "@vi/sdk";
import { startTestServer, type TestServer } from "../helpers/server.js";

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Keys can be listed and revoked, with effect on the very next request on every route. */
describe("secret keys: list and revoke", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t?.stop());

  const clientWith = (secretKey: string) =>
    new Client({ endpoint: t.server.url, organizationId: t.organizationId, secretKey, maxRetries: 0 });

  it("lists keys without their secrets, marking the caller's own", async () => {
    const created = await t.client.organizations.createKey({ name: "laptop" });
    const keys = await t.client.organizations.listKeys();
    expect(keys.map((k) => k.name)).toEqual(["initial", "laptop"]);
    expect(keys.find((k) => k.current)?.name).toBe("initial");
    expect(JSON.stringify(keys)).not.toContain(created.secretKey.slice(5, 30));
    const fromLaptop = await clientWith(created.secretKey).organizations.listKeys();
    expect(fromLaptop.find((k) => k.current)?.keyId).toBe(created.keyId);
  });

  it("a revoked key fails at once on the API and cannot revoke back; the last key is kept", async () => {
    const spare = await t.client.organizations.createKey({ name: "spare" });
    const other = clientWith(spare.secretKey);
    const datasetId = (await other.datasets.create({ name: "by spare" })).datasetId;
    await t.client.organizations.revokeKey({ keyId: spare.keyId });
    await expect(other.datasets.get({ datasetId })).rejects.toBeInstanceOf(ViAuthenticationError);
    await expect(other.organizations.listKeys()).rejects.toBeInstanceOf(ViAuthenticationError);
    await expect(t.client.organizations.revokeKey({ keyId: spare.keyId })).rejects.toBeInstanceOf(ViNotFoundError);
    // Revoke everything but the caller's own key, then the caller's: refused, it is the last one.
    for (const k of await t.client.organizations.listKeys())
      if (!k.current) await t.client.organizations.revokeKey({ keyId: k.keyId });
    const [last] = await t.client.organizations.listKeys();
    await expect(t.client.organizations.revokeKey({ keyId: last!.keyId })).rejects.toBeInstanceOf(ViConflictError);
  });

  it("another organization's key ids are not found", async () => {
    const other = await t.server.admin.createOrganization("other");
    const [theirs] = (
      (await (
        await fetch(`${t.server.url}${apiPaths.secretKeys(other.organizationId)}`, {
          headers: { authorization: `Bearer ${other.secretKey}`, "organization-id": other.organizationId },
        })
      ).json()) as { items: SecretKeySummary[] }
    ).items;
    await expect(t.client.organizations.revokeKey({ keyId: theirs!.keyId })).rejects.toBeInstanceOf(ViNotFoundError);
  });

  it("vi-cli keys create, list and revoke", async () => {
    const env = {
      DATATURE_VI_API_ENDPOINT: t.server.url,
      DATATURE_VI_ORGANIZATION_ID: t.organizationId,
      DATATURE_VI_SECRET_KEY: t.secretKey,
    };
    const made = await cli(["keys", "create", "--name", "ci", "--json"], env);
    expect(made.code).toBe(0);
    const { keyId } = JSON.parse(made.stdout) as { keyId: string };
    const listed = await cli(["keys", "list"], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(keyId);
    expect(listed.stdout).toContain("(this key)");
    const refused = await cli(["keys", "revoke", keyId], env);
    expect(refused.code).toBe(2); // no TTY and no --yes
    const revoked = await cli(["keys", "revoke", keyId, "--yes"], env);
    expect(revoked.code).toBe(0);
    expect((await cli(["keys", "list", "--json"], env)).stdout).not.toContain(keyId);
  });
});
