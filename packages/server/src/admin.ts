import { existsSync } from "node:fs";
import { join } from "node:path";
import type { MetadataStore } from "./store/metadata/metadata-store.js";
import { openSqliteStore } from "./store/metadata/sqlite.js";
import { generateSecretKey, hashSecretKey } from "./services/secret-keys.js";
import { newId } from "./util/ids.js";

/**
 * Operator actions that have no API because no key may perform them: whoever holds the data
 * folder is the administrator (`vi-cli orgs create`).
 */

/** A new organization with its first secret key; the clear key is returned once, only its hash is stored. */
export async function createOrganization(
  metadata: MetadataStore,
  name: string,
): Promise<{ organizationId: string; secretKey: string }> {
  return (await newOrganization(metadata, name, false))!;
}

/**
 * The first start on an empty database creates the `default` organization; a replica that
 * starts on a database that has one (or loses the race to create it) answers undefined.
 */
export function createFirstOrganization(
  metadata: MetadataStore,
): Promise<{ organizationId: string; secretKey: string } | undefined> {
  return newOrganization(metadata, "default", true);
}

async function newOrganization(
  metadata: MetadataStore,
  name: string,
  onlyIfFirst: boolean,
): Promise<{ organizationId: string; secretKey: string } | undefined> {
  const t = Date.now();
  const organizationId = newId();
  const secretKey = generateSecretKey();
  const created = await metadata.createOrganization(
    { orgId: organizationId, name, createdAt: t },
    { keyId: newId(), orgId: organizationId, name: "initial", keyHash: hashSecretKey(secretKey), createdAt: t },
    onlyIfFirst,
  );
  return created ? { organizationId, secretKey } : undefined;
}

/**
 * Creates an organization in a data folder whose server is stopped (the running server holds
 * its database exclusively: this then fails with a message saying so).
 */
export async function createOrganizationIn(
  dataDir: string,
  name: string,
): Promise<{ organizationId: string; secretKey: string; name: string }> {
  const file = join(dataDir, "metadata.sqlite");
  if (!existsSync(file)) {
    throw new Error(`${dataDir} is not a Vi data folder (no metadata.sqlite): start the server on it once first`);
  }
  let metadata: MetadataStore;
  try {
    metadata = await openSqliteStore(file);
    await metadata.countOrganizations();
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      throw new Error(`${dataDir} is in use by a running server: stop the server first`, { cause: err });
    }
    throw err;
  }
  try {
    const trimmed = name.trim();
    if (trimmed === "") throw new Error("an organization needs a non-blank name");
    return { ...(await createOrganization(metadata, trimmed)), name: trimmed };
  } finally {
    await metadata.close();
  }
}
