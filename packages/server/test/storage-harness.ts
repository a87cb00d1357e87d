import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { crc32c } from "@node-rs/crc32";
import { apiPaths, type Asset, type IngestionSession } from "@vi/protocol";
import { startServer, type RunningServer, type WrapStores } from "../src/server.js";
import type { ServerConfig } from "../src/config.js";

/** One line the server logged (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export const ERROR_LEVEL = 50;

export const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

export interface UploadFile {
  filename: string;
  bytes: Buffer;
}

/**
 * A real server on an ephemeral port over a fresh data dir (optionally over wrapped stores),
 * with its log captured, and raw-HTTP helpers: these tests look at statuses, headers and
 * bodies exactly as a client gets them.
 */
export class StorageHarness {
  readonly logs: LogLine[] = [];
  server!: RunningServer;
  dataDir!: string;
  org!: string;
  key!: string;

  static async start(options: Partial<ServerConfig> & { wrapStores?: WrapStores } = {}): Promise<StorageHarness> {
    const h = new StorageHarness();
    // A given data dir is a restart: the caller knows its organization and key already.
    h.dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "vi-storage-")));
    const logs = h.logs;
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    h.server = await startServer({
      host: "127.0.0.1",
      port: 0,
      dataDir: h.dataDir,
      logger: { level: "warn", stream },
      // Faults are planned by call count on the stores: background processing (thumbnails) would
      // take some of them. Processing under storage faults is tested where it is turned on.
      processingConcurrency: 0,
      ...options,
    });
    if (h.server.created) {
      h.org = h.server.created.organizationId;
      h.key = h.server.created.secretKey;
    }
    return h;
  }

  get url(): string {
    return this.server.url;
  }

  headers(): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, "organization-id": this.org, "content-type": "application/json" };
  }

  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { ...init, headers: { ...this.headers(), ...(init.headers as object) } });
  }

  async createDataset(name: string): Promise<Response> {
    return this.api(apiPaths.datasets(this.org), { method: "POST", body: JSON.stringify({ name }) });
  }

  async datasetId(name: string): Promise<string> {
    const res = await this.createDataset(name);
    if (res.status !== 201) throw new Error(`dataset create answered ${res.status}: ${await res.text()}`);
    const { datasetId } = (await res.json()) as { datasetId: string };
    return datasetId.includes("_") ? datasetId.slice(datasetId.indexOf("_") + 1) : datasetId;
  }

  openSession(datasetId: string, files: UploadFile[], failureMode = "FailAfterAll"): Promise<Response> {
    return this.api(apiPaths.ingestionSessions(this.org, datasetId), {
      method: "POST",
      body: JSON.stringify({
        spec: {
          kind: "Upload",
          failureMode,
          assets: files.map((f) => ({
            filename: f.filename,
            mime: "image/jpeg",
            size: f.bytes.length,
            crc32c: crc32c(f.bytes) | 0,
            sha256: sha256(f.bytes),
            customMetadata: null,
            kind: "Image",
          })),
        },
      }),
    });
  }

  async session(datasetId: string, files: UploadFile[], failureMode = "FailAfterAll"): Promise<IngestionSession> {
    const res = await this.openSession(datasetId, files, failureMode);
    if (res.status !== 201) throw new Error(`session open answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as IngestionSession;
  }

  /** The PUT of one file to its upload target. */
  put(session: IngestionSession, file: UploadFile): Promise<Response> {
    const target = session.status.assets.find((a) => a.metadata.filename === file.filename);
    if (!target) throw new Error(`no upload target for ${file.filename}`);
    return fetch(target.upload.url, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: file.bytes,
    });
  }

  async sessionStatus(datasetId: string, session: IngestionSession, wait = 0): Promise<IngestionSession> {
    const path = apiPaths.ingestionSession(this.org, datasetId, session.assetIngestionSessionId);
    const res = await this.api(wait ? `${path}?waitFor=Finished&timeout=${wait}` : path);
    return (await res.json()) as IngestionSession;
  }

  async listAssets(datasetId: string): Promise<Asset[]> {
    const all: Asset[] = [];
    let token: string | null = null;
    do {
      const query: string = `?s=1000&contents=y${token ? `&p=${encodeURIComponent(token)}` : ""}`;
      const res = await this.api(`${apiPaths.assets(this.org, datasetId)}${query}`);
      if (res.status !== 200) throw new Error(`listing answered ${res.status}: ${await res.text()}`);
      const page = (await res.json()) as { items: Asset[]; nextPage: string | null };
      all.push(...page.items);
      token = page.nextPage;
    } while (token);
    return all;
  }

  /** The bytes a download URL serves, with its status. */
  async download(url: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
    const res = await fetch(url);
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  /** Error-level log lines (what an operator would be paged about). */
  errors(): LogLine[] {
    return this.logs.filter((l) => l.level >= ERROR_LEVEL);
  }

  async stagingFiles(): Promise<string[]> {
    return readdir(join(this.dataDir, "staging"));
  }

  async stop(options: { keep?: boolean } = {}): Promise<void> {
    await this.server.close();
    if (!options.keep) await rm(this.dataDir, { recursive: true, force: true });
  }
}
