import { crc32c } from "@node-rs/crc32";
import type { ServerResponse } from "node:http";
import { json, startServer, type Received, type TestServer } from "./server.js";

interface FileState {
  filename: string;
  size: number;
  crc32c: number;
  sha256?: string;
  state: "pending" | "ok" | "error";
  code?: string;
  message?: string;
}

interface SessionState {
  id: string;
  failureMode: string;
  files: FileState[];
  deduplicated: string[];
  /** Set when the session as a whole failed (FailAfterOne). */
  failed: boolean;
  created: number;
}

export interface IngestionScript {
  maxFileSize?: number;
  /** sha256 values the store already holds: those files get no upload target. */
  known?: Set<string>;
  /** Refused in the manifest, with this code. */
  refuseInManifest?: Record<string, string>;
  /** Accepted PUT, then failed verification with this code. */
  failAfterPut?: Record<string, string>;
  /** Answer the PUT itself with this status and error body. */
  refusePut?: Record<string, { status: number; error: string; message: string }>;
  /** Answer the first N PUTs of these files with 503. */
  flakyPut?: Record<string, number>;
  /** Drop the connection on every PUT of these files: their bytes never arrive. */
  resetPut?: Set<string>;
  /** Never finish sessions (for wait timeouts). */
  neverFinish?: boolean;
  /** Delay each PUT answer by this many ms (to observe concurrency). */
  putDelayMs?: number;
}

export interface IngestionServer extends TestServer {
  sessions: SessionState[];
  puts: Received[];
  maxPutsInFlight: number;
}

const ORG_PATH = "/workspaces/org1";
const SESSIONS_PATH =
  "/workspaces/org1/datasets/org1_ds1/assetSources/managed/datature/transient/assetIngestionSessions";

function render(s: SessionState, base: string, neverFinish: boolean) {
  const done = s.files.every((f) => f.state !== "pending");
  const errored = s.files.filter((f) => f.state === "error");
  const finished = s.failed ? "FailedReach" : done && !neverFinish ? "Reached" : "Waiting";
  return {
    kind: "AssetIngestionSession",
    workspaceId: "org1",
    datasetId: "org1_ds1",
    assetSourceClass: "managed",
    assetSourceProvider: "datature",
    assetSourceId: "transient",
    assetIngestionSessionId: s.id,
    selfLink: `${base}${SESSIONS_PATH}/${s.id}`,
    etag: "e",
    metadata: { timeCreated: s.created, lastUpdated: Date.now(), generation: 1, attributes: {} },
    spec: { kind: "Upload", failureMode: s.failureMode, onAssetOverwritten: "RemoveLinkedResource", assets: [] },
    status: {
      conditions: [
        { condition: "Started", status: "Reached", lastTransitionTime: s.created },
        { condition: "Finished", status: finished, lastTransitionTime: Date.now() },
      ],
      progressCount: {
        total: s.files.length,
        succeeded: s.files.filter((f) => f.state === "ok").length,
        errored: errored.length,
      },
      events: errored.length
        ? [
            {
              kind: "Error",
              files: Object.fromEntries(errored.map((f) => [f.filename, f.code])),
              corrections: {},
              messages: Object.fromEntries(errored.map((f) => [f.filename, f.message])),
              time: Date.now(),
            },
          ]
        : [],
      assets: s.files
        .filter((f) => f.state === "pending" && !s.deduplicated.includes(f.filename))
        .map((f) => ({
          metadata: {
            filename: f.filename,
            mime: "image/jpeg",
            size: f.size,
            crc32c: f.crc32c,
            kind: "Image",
            customMetadata: null,
          },
          upload: {
            url: `${base}/upload/${s.id}/${encodeURIComponent(f.filename)}?sig=abc`,
            expiry: Date.now() + 60_000,
            method: "PUT",
            headers: { "x-upload-token": "tok" },
          },
        })),
      deduplicated: s.deduplicated,
    },
  };
}

/** A scripted imitation of the ingestion protocol (PROTOCOL §3), enough to drive the upload manager. */
export async function startIngestionServer(script: IngestionScript = {}): Promise<IngestionServer> {
  const sessions: SessionState[] = [];
  const puts: Received[] = [];
  const putAttempts = new Map<string, number>();
  let inFlight = 0;
  let maxPutsInFlight = 0;
  let base = "";
  const fileError = (s: SessionState, f: FileState, code: string, message: string) => {
    f.state = "error";
    f.code = code;
    f.message = message;
    if (s.failureMode === "FailAfterOne") s.failed = true;
  };
  const server = await startServer(async (req, res: ServerResponse, raw) => {
    const url = new URL(req.url, "http://x");
    if (req.method === "GET" && url.pathname === ORG_PATH) {
      json(res, 200, {
        kind: "Workspace",
        workspaceId: "org1",
        name: "o",
        owner: "u",
        createDate: 0,
        selfLink: "",
        etag: "",
        limits: { maxFileSize: script.maxFileSize ?? 50_000_000, maxPixels: 1e9, maxFilesPerSession: 10_000 },
      });
      return;
    }
    if (req.method === "POST" && url.pathname === SESSIONS_PATH) {
      const body = JSON.parse(req.body.toString()) as {
        spec: { failureMode: string; assets: { filename: string; size: number; crc32c: number; sha256?: string }[] };
      };
      const s: SessionState = {
        id: `s${sessions.length + 1}`,
        failureMode: body.spec.failureMode,
        files: body.spec.assets.map((a) => ({
          filename: a.filename,
          size: a.size,
          crc32c: a.crc32c,
          sha256: a.sha256,
          state: "pending",
        })),
        deduplicated: [],
        failed: false,
        created: Date.now(),
      };
      for (const f of s.files) {
        const refused = script.refuseInManifest?.[f.filename];
        if (refused) fileError(s, f, refused, `refused in manifest: ${refused}`);
        else if (f.sha256 && script.known?.has(f.sha256)) {
          f.state = "ok";
          s.deduplicated.push(f.filename);
        }
      }
      sessions.push(s);
      json(res, 201, render(s, base, false));
      return;
    }
    const upload = /^\/upload\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (req.method === "PUT" && upload) {
      puts.push(req);
      inFlight++;
      maxPutsInFlight = Math.max(maxPutsInFlight, inFlight);
      try {
        if (script.putDelayMs) await new Promise((r) => setTimeout(r, script.putDelayMs));
        const s = sessions.find((x) => x.id === upload[1]);
        const filename = decodeURIComponent(upload[2] ?? "");
        const f = s?.files.find((x) => x.filename === filename);
        if (!s || !f) return json(res, 404, { error: "ResourceNotFound", message: "no such upload", traceId: "t" });
        if (script.resetPut?.has(filename)) {
          raw.socket.destroy();
          return;
        }
        const attempt = (putAttempts.get(filename) ?? 0) + 1;
        putAttempts.set(filename, attempt);
        if (attempt <= (script.flakyPut?.[filename] ?? 0)) {
          return json(
            res,
            503,
            { error: "ServiceUnavailable", message: "try again", traceId: "t" },
            { "retry-after": "0" },
          );
        }
        const refusal = script.refusePut?.[filename];
        if (refusal) {
          fileError(s, f, refusal.status === 413 ? "EBADSIZE" : "ECORRUPT", refusal.message);
          return json(res, refusal.status, { error: refusal.error, message: refusal.message, traceId: "t" });
        }
        if (req.body.length !== f.size || (crc32c(req.body) | 0) !== f.crc32c) {
          fileError(s, f, "ECORRUPT", "checksum or size mismatch");
          return json(res, 400, { error: "ValidationFailed", message: "checksum mismatch", traceId: "t" });
        }
        const failCode = script.failAfterPut?.[filename];
        res.writeHead(200).end();
        // Verification happens after the bytes are in, as the real server does it.
        setTimeout(() => {
          if (failCode) fileError(s, f, failCode, `verification failed: ${failCode}`);
          else if (!s.failed) f.state = "ok";
        }, 5);
      } finally {
        inFlight--;
      }
      return;
    }
    const poll = new RegExp(`^${SESSIONS_PATH}/([^/]+)$`).exec(url.pathname);
    if (req.method === "GET" && poll) {
      const s = sessions.find((x) => x.id === poll[1]);
      if (!s) return json(res, 404, { error: "ResourceNotFound", message: "no session", traceId: "t" });
      const until = Date.now() + Number(url.searchParams.get("timeout") ?? 0) * 1000;
      const finished = () => s.failed || (!script.neverFinish && s.files.every((f) => f.state !== "pending"));
      while (url.searchParams.get("waitFor") === "Finished" && !finished() && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
      json(res, 200, render(s, base, script.neverFinish ?? false));
      return;
    }
    json(res, 404, { error: "ResourceNotFound", message: `${req.method} ${url.pathname}`, traceId: "t" });
  });
  base = server.url;
  return {
    ...server,
    sessions,
    puts,
    get maxPutsInFlight() {
      return maxPutsInFlight;
    },
  };
}
