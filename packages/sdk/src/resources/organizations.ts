import { apiPaths, type CreatedSecretKey, type Organization, type PageOf, type SecretKeySummary } from "@vi/protocol";
import type { ClientContext } from "../client.js";

export class Organizations {
  readonly #ctx: ClientContext;

  constructor(ctx: ClientContext) {
    this.#ctx = ctx;
  }

  /** The client's organization, with the server's `limits`. */
  get(options: { signal?: AbortSignal } = {}): Promise<Organization> {
    return this.#ctx.http.json<Organization>({
      method: "GET",
      path: apiPaths.organization(this.#ctx.organizationId),
      signal: options.signal,
    });
  }

  /** [ext] Creates another secret key for the organization. Its clear `secretKey` is shown only in this answer. */
  createKey(options: { name?: string; signal?: AbortSignal } = {}): Promise<CreatedSecretKey> {
    return this.#ctx.http.json<CreatedSecretKey>({
      method: "POST",
      path: apiPaths.secretKeys(this.#ctx.organizationId),
      body: options.name === undefined ? {} : { name: options.name },
      signal: options.signal,
    });
  }

  /** [ext] The organization's secret keys: ids, names and dates, never the keys themselves. */
  async listKeys(options: { signal?: AbortSignal } = {}): Promise<SecretKeySummary[]> {
    const page = await this.#ctx.http.json<PageOf<SecretKeySummary>>({
      method: "GET",
      path: apiPaths.secretKeys(this.#ctx.organizationId),
      signal: options.signal,
    });
    return page.items;
  }

  /**
   * [ext] Revokes a secret key: every request made with it fails from now on. The server keeps
   * an organization's last key (ViConflictError), so that it cannot be locked out.
   */
  async revokeKey(options: { keyId: string; signal?: AbortSignal }): Promise<{ keyId: string; revoked: true }> {
    await this.#ctx.http.empty({
      method: "DELETE",
      path: apiPaths.secretKey(this.#ctx.organizationId, options.keyId),
      signal: options.signal,
    });
    return { keyId: options.keyId, revoked: true };
  }
}
