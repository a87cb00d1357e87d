import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "../../src/client.js";

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export type Handler = (req: Received, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

export interface TestServer {
  url: string;
  requests: Received[];
  close: () => Promise<void>;
}

/** A real HTTP server on an ephemeral loopback port, scripted by the test. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const requests: Received[] = [];
  const server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on("data", (c: Buffer) => chunks.push(c));
    raw.on("end", () => {
      const req: Received = {
        method: raw.method ?? "",
        url: raw.url ?? "",
        headers: raw.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(req);
      Promise.resolve(handler(req, res, raw)).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: "ServerError", message: String(error), traceId: "t" }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "x-request-id": "req-test", ...headers });
  res.end(JSON.stringify(body));
}

export const SECRET_KEY = `dtvi_${"a1B2-_".repeat(16)}xy`;
export const ORG = "org1";

export function testClient(url: string, options: { maxRetries?: number; timeout?: number } = {}): Client {
  return new Client({ secretKey: SECRET_KEY, organizationId: ORG, endpoint: url, ...options });
}
