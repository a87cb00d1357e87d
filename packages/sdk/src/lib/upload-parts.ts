import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { MultipartStart, MultipartTarget } from "@vi/protocol";
import { ViError } from "../core/errors.js";
import type { HttpClient } from "../core/http.js";
import { Semaphore } from "./concurrency.js";

/** Parts of one file in flight at once. */
const PARTS_IN_FLIGHT = 4;

/**
 * [ext] Sends a large file in parts straight to the bucket behind a server with an S3 store
 * (PROTOCOL.md §8): starts the upload through the API, PUTs each part to its presigned URL
 * (a failed part is retried alone), then completes it through the API, which verifies the
 * whole object before it answers. `onBytes` counts the bytes sent.
 */
export async function putInParts(
  http: HttpClient,
  target: MultipartTarget,
  path: string,
  size: number,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<void> {
  const started = await http.transfer(
    { method: "POST", url: target.start, headers: { "content-length": "0" }, signal },
    async (res) => (await res.body.json()) as MultipartStart,
  );
  const total = started.parts.reduce((n, p) => n + p.size, 0);
  if (total !== size) {
    throw new ViError(`the server planned ${total} bytes of parts for a file of ${size}`, { code: "UploadFailed" });
  }
  const slots = new Semaphore(PARTS_IN_FLIGHT);
  const etags = await Promise.all(
    started.parts.map(async (part, i) => {
      const release = await slots.acquire(signal);
      try {
        const start = i * started.partSize;
        const etag = await http.transfer(
          {
            method: "PUT",
            url: part.url,
            headers: { "content-length": String(part.size) },
            body: () => createReadStream(path, { start, end: start + part.size - 1 }),
            signal,
          },
          async (res) => {
            await res.body.dump();
            return String(res.headers.etag ?? "");
          },
        );
        onBytes(part.size);
        return { partNumber: part.partNumber, etag };
      } finally {
        release();
      }
    }),
  );
  const body = Buffer.from(JSON.stringify({ uploadId: started.uploadId, parts: etags }));
  await http.transfer(
    {
      method: "POST",
      url: target.complete,
      headers: { "content-type": "application/json", "content-length": String(body.length) },
      body: () => Readable.from([body]),
      signal,
    },
    (res) => res.body.dump(),
  );
}
