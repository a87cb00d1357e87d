import { apiPaths, type Organization } from "@vi/protocol";
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
}
