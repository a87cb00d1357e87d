import { apiPaths, type CreatedSecretKey, type Organization } from "@vi/protocol";
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
}
