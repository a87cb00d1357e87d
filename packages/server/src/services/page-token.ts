import { invalid } from "../errors.js";

/**
 * Page tokens are opaque to clients: base64url of a small JSON cursor. They carry no secret
 * and grant nothing (every request is authorized on its own); a malformed one is a 400.
 */
export function encodePageToken(body: object): string {
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

export function decodePageToken(token: string, parameter: string): Record<string, unknown> {
  try {
    const body: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // falls through to the error below
  }
  throw invalid("The page token is malformed", { parameter }, "Pass nextPage from the previous page unchanged.");
}
