import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { resolveConfig, type ServerConfig } from "./config.js";
import { buildApp } from "./app.js";
import { newSessionChanges, KeyedMutex, type ServiceContext } from "./services/context.js";
import { UrlSigner } from "./services/url-signer.js";
import { openSqliteStore } from "./store/metadata/sqlite.js";
import { openPostgresStore } from "./store/metadata/postgres.js";
import { openCoordination, type Coordination } from "./store/metadata/postgres-coordination.js";
import { LocalBlobStore } from "./store/blob/local.js";
import { S3BlobStore } from "./store/blob/s3.js";
import type { MetadataStore } from "./store/metadata/metadata-store.js";
import type { BlobStore } from "./store/blob/blob-store.js";
import { createFirstOrganization, createOrganization } from "./admin.js";
import { markCleanShutdown, recoverAfterCrash, type RecoveryReport } from "./services/crash-recovery.js";

export interface RunningServer {
  url: string;
  config: ServerConfig;
  /**
   * `<data dir>/credentials.json`; absent when this start found no such file to keep current: a
   * replica that joined an organization another replica created (that one wrote the key).
   */
  credentialsPath?: string;
  /** Present only when this start created the organization. */
  created?: { organizationId: string; secretKey: string };
  app: FastifyInstance;
  /** What start-up found and removed after an unclean shutdown. */
  recovery: RecoveryReport;
  /** Operator actions that have no API: a new organization with its first key. */
  admin: {
    createOrganization(name: string): Promise<{ organizationId: string; secretKey: string }>;
    /** Purges sessions past retention as of `now` (the janitor does this hourly by itself). */
    purgeSessions(now?: number): Promise<{ ingestion: number; deletion: number }>;
  };
  close(): Promise<void>;
}

/**
 * For tests only: replaces the stores the server built with wrappers of them (fault injection,
 * see store/faults/). The server then uses only what this returns, and closes it on close().
 */
export type WrapStores = (stores: { metadata: MetadataStore; blobs: BlobStore }) => {
  metadata: MetadataStore;
  blobs: BlobStore;
};

export interface Credentials {
  organizationId: string;
  secretKey: string;
  endpoint: string;
}

/**
 * Starts the server on the embedded default: SQLite and a local folder under the data dir; or,
 * with `databaseUrl`, on PostgreSQL, as one of several replicas of a deployment.
 * The first start on an empty database creates an organization and a secret key and writes
 * them, with the endpoint, to `<data dir>/credentials.json` (mode 0600); a replica that starts
 * on a database that has one joins it and writes no key.
 */
export async function startServer(
  options: Partial<ServerConfig> & { logger?: boolean | object; wrapStores?: WrapStores } = {},
): Promise<RunningServer> {
  const { logger: given, wrapStores, ...rest } = options;
  const config = resolveConfig(rest);
  // Operators see warnings and unexpected errors (with their trace id) by default.
  const logger = given ?? { level: config.logLevel };
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const folderMode = (await stat(config.dataDir)).mode & 0o777;
  const bytes = await openBlobStore(config);
  const coordination: Coordination | undefined = config.databaseUrl
    ? await openCoordination(config.databaseUrl)
    : undefined;
  const opened = {
    metadata: config.databaseUrl
      ? await openPostgresStore(config.databaseUrl).catch(async (err: unknown) => {
          await coordination?.close();
          throw err;
        })
      : await openSqliteStore(join(config.dataDir, "metadata.sqlite"), { exclusive: true }),
    blobs: bytes,
  };
  const { metadata, blobs } = wrapStores ? wrapStores(opened) : opened;
  const blobLocks = coordination?.locks("blob") ?? new KeyedMutex();
  const recovery = await recoverAfterCrash(config.dataDir, metadata, blobs, blobLocks);

  const secret = await metadata.settingOrInsert("url-signing-secret", randomBytes(32).toString("hex"));
  // The signer needs the public URL, which is known only after listening on port 0.
  const signer = { current: undefined as UrlSigner | undefined };
  const ctx: ServiceContext = {
    config,
    metadata,
    blobs,
    ...(bytes instanceof S3BlobStore ? { bucket: bytes } : {}),
    get signer() {
      if (!signer.current) throw new Error("server not listening yet");
      return signer.current;
    },
    blobLocks,
    // On PostgreSQL a change in one replica wakes the long-polls of all (LISTEN/NOTIFY).
    sessionChanges: coordination?.channel("session_changes") ?? newSessionChanges(),
    processingEvents: coordination?.channel("processing") ?? newSessionChanges(),
  };
  const created = await createFirstOrganization(metadata);
  const { app, services } = await buildApp(ctx, logger);
  if (folderMode & 0o077) {
    // Its files are made private anyway; the folder's listing (dataset-free blob names) is not.
    app.log.warn(
      { dataDir: config.dataDir, mode: folderMode.toString(8) },
      `the data folder ${config.dataDir} is readable by other users (mode ${folderMode.toString(8)}); its files are created private, but run 'chmod 700 ${config.dataDir}'`,
    );
  }
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = config.publicUrl ?? `http://${host}:${port}`;
  signer.current = new UrlSigner(Buffer.from(secret, "hex"), url);

  const credentialsPath = join(config.dataDir, "credentials.json");
  const hasCredentials = await writeCredentials(credentialsPath, url, created);

  return {
    url,
    config,
    ...(hasCredentials ? { credentialsPath } : {}),
    ...(created ? { created } : {}),
    app,
    admin: {
      createOrganization: (name) => createOrganization(metadata, name),
      purgeSessions: (now) => services.janitor.purge(now),
    },
    recovery,
    async close() {
      await app.close();
      await metadata.close();
      await coordination?.close();
      await blobs.close();
      await markCleanShutdown(config.dataDir);
    },
  };
}

/** The local folder under the data dir (the embedded default), or an S3-compatible bucket. */
async function openBlobStore(config: ServerConfig): Promise<BlobStore> {
  if (config.s3) {
    // The data dir keeps only scratch space (bytes being measured before they go to the bucket).
    const bucket = new S3BlobStore(config.s3, join(config.dataDir, "scratch"));
    await bucket.init();
    return bucket;
  }
  const local = new LocalBlobStore(config.dataDir);
  await local.init();
  return local;
}

/**
 * The first start writes the new key; later starts only refresh the endpoint (the port may
 * change), keeping whatever key the file holds. Written to a temp file and renamed, mode 0600.
 * Answers whether the file is there.
 */
async function writeCredentials(
  path: string,
  endpoint: string,
  created: { organizationId: string; secretKey: string } | undefined,
): Promise<boolean> {
  let current: Credentials | undefined;
  if (created) {
    current = { ...created, endpoint };
  } else {
    try {
      current = { ...(JSON.parse(await readFile(path, "utf8")) as Credentials), endpoint };
    } catch {
      return false; // No file (or not ours to fix): the first start wrote the key where it ran.
    }
  }
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(current, null, 2) + "\n", { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return true;
}
