import { afterEach, describe, expect, it } from "vitest";
import {
  ViAuthenticationError,
  ViConflictError,
  ViError,
  ViFileTooLargeError,
  ViNotFoundError,
  ViPermissionError,
  ViRateLimitError,
  ViServerError,
  ViValidationError,
} from "../src/index.js";
import type { Client } from "../src/client.js";
import { json, startServer, testClient, type TestServer } from "./helpers/server.js";

let server: TestServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
});

const cases: [number, string, new (...args: never[]) => ViError][] = [
  [400, "InvalidParameter", ViValidationError],
  [401, "InvalidApiKey", ViAuthenticationError],
  [403, "PermissionDenied", ViPermissionError],
  [404, "ResourceNotFound", ViNotFoundError],
  [409, "ResourceConflict", ViConflictError],
  [413, "FileTooLarge", ViFileTooLargeError],
  [429, "RateLimitExceeded", ViRateLimitError],
  [500, "ServerError", ViServerError],
  [503, "ServiceUnavailable", ViServerError],
];

describe("suggestions", () => {
  it("a 401 without a suggestion in its body gets one: the key", async () => {
    server = await startServer((_req, res) =>
      json(res, 401, { error: "InvalidApiKey", message: "The secret key is not valid", traceId: "t" }),
    );
    client = testClient(server.url, { maxRetries: 0 });
    const err = (await client.organizations.get().catch((e: unknown) => e)) as ViError;
    expect(err).toBeInstanceOf(ViAuthenticationError);
    expect(err.suggestion).toMatch(/^the server did not accept the secret key: check DATATURE_VI_SECRET_KEY/);
  });

  it.each([403, 429, 500, 502, 503])("%i without a body's suggestion gets one too", async (status) => {
    server = await startServer((_req, res) => {
      res.writeHead(status, { "retry-after": "0" });
      res.end("<html>proxy</html>");
    });
    client = testClient(server.url, { maxRetries: 0 });
    const err = (await client.organizations.get().catch((e: unknown) => e)) as ViError;
    expect(err.suggestion).toEqual(expect.any(String));
  });
});

describe("error mapping", () => {
  it.each(cases)("%i %s -> its class with the body's fields", async (status, code, Class) => {
    server = await startServer((_req, res) =>
      json(
        res,
        status,
        {
          error: code,
          message: `it went ${code}`,
          suggestion: "try harder",
          details: { field: "s" },
          traceId: "trace-1",
        },
        { "x-request-id": "req-42" },
      ),
    );
    client = testClient(server.url, { maxRetries: 0 });
    const err = await client.organizations.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Class);
    expect(err).toBeInstanceOf(ViError);
    const e = err as ViError;
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.message).toBe(`it went ${code}`);
    expect(e.suggestion).toBe("try harder");
    expect(e.requestId).toBe("req-42");
    expect(e.details).toEqual({ field: "s" });
    expect(e.name).toBe(Class.name);
  });

  it("falls back to the traceId, and copes with a body that is not JSON", async () => {
    let calls = 0;
    server = await startServer((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "ResourceNotFound", message: "no", traceId: "trace-9" }));
      } else {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html>bad gateway</html>");
      }
    });
    client = testClient(server.url, { maxRetries: 0 });
    const notFound = (await client.organizations.get().catch((e: unknown) => e)) as ViError;
    expect(notFound.requestId).toBe("trace-9");
    const gateway = (await client.organizations.get().catch((e: unknown) => e)) as ViError;
    expect(gateway).toBeInstanceOf(ViServerError);
    expect(gateway.code).toBe("HTTP502");
    expect(gateway.message).toContain("bad gateway");
  });

  it("sends the credentials and a user-agent on API calls", async () => {
    server = await startServer((_req, res) => json(res, 200, { kind: "Workspace" }));
    client = testClient(server.url);
    await client.organizations.get();
    const req = server.requests[0];
    expect(req?.url).toBe("/workspaces/org1");
    expect(req?.headers.authorization).toMatch(/^Bearer dtvi_/);
    expect(req?.headers["organization-id"]).toBe("org1");
    expect(req?.headers["user-agent"]).toMatch(/^vi-sdk-ts\/0\.1\.0 node\/\d+/);
  });
});
