import { ApiError, notFound } from "../errors.js";
import type { SecretKeyRecord } from "../store/metadata/records.js";
import { newId } from "../util/ids.js";
import type { ServiceContext } from "./context.js";
import { generateSecretKey, hashSecretKey, looksLikeSecretKey, sameDigest } from "./secret-keys.js";

export interface Principal {
  orgId: string;
  keyId: string;
}

const unauthenticated = (message: string) =>
  new ApiError(
    "AuthenticationFailed",
    message,
    "Send 'Authorization: Bearer <secret key>' and 'Organization-Id: <organization id>'; keys are in <data dir>/credentials.json or made with 'vi-cli keys create'.",
  );

export class AuthService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Resolves the caller's organization from its secret key; every failure reads the same way. */
  async authenticate(authorization: string | undefined, organizationHeader: string | undefined): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!match) throw unauthenticated("Missing or malformed Authorization header");
    const key = match[1]!;
    if (!looksLikeSecretKey(key))
      throw new ApiError(
        "InvalidApiKey",
        "The secret key has the wrong shape",
        "Keys are 'dtvi_' followed by 98 characters.",
      );
    const hash = hashSecretKey(key);
    const record = await this.ctx.metadata.findSecretKeyByHash(hash);
    if (!record || !sameDigest(record.keyHash, hash))
      throw new ApiError("InvalidApiKey", "The secret key is not valid");
    if (organizationHeader !== undefined && organizationHeader !== record.orgId) {
      throw unauthenticated("The secret key does not belong to the organization named in Organization-Id");
    }
    return { orgId: record.orgId, keyId: record.keyId };
  }

  async listKeys(orgId: string): Promise<SecretKeyRecord[]> {
    return this.ctx.metadata.listSecretKeys(orgId);
  }

  /**
   * Revokes a key: every route refuses it from the next request on (keys are looked up on each
   * request, never cached). The organization's last key is kept, so that it is never locked out.
   */
  async revokeKey(orgId: string, keyId: string): Promise<void> {
    const outcome = await this.ctx.metadata.deleteSecretKey(orgId, keyId);
    if (outcome === "missing") throw notFound("Secret key", keyId);
    if (outcome === "last") {
      throw new ApiError(
        "ResourceConflict",
        "This is the organization's last secret key; revoking it would lock the organization out",
        "Create another key first (vi-cli keys create), then revoke this one.",
      );
    }
  }

  /** A new key for the caller's organization. The clear key is returned once and never stored. */
  async createKey(
    orgId: string,
    name: string | undefined,
  ): Promise<{ keyId: string; name: string; secretKey: string; createdAt: number }> {
    const secretKey = generateSecretKey();
    const record = {
      keyId: newId(),
      orgId,
      name: name?.trim() || "unnamed",
      keyHash: hashSecretKey(secretKey),
      createdAt: Date.now(),
    };
    await this.ctx.metadata.createSecretKey(record);
    return { keyId: record.keyId, name: record.name, secretKey, createdAt: record.createdAt };
  }
}
