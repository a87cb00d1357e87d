import { resolve } from "node:path";

/** Everything the server can be told; each field has an env var and a CLI flag (see README). */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /**
   * PostgreSQL for the metadata (`postgres://user:password@host:5432/db`) instead of the SQLite
   * file in the data dir: several replicas can then serve one deployment. Unset: embedded SQLite.
   */
  databaseUrl?: string;
  /** The URL clients reach this server at; signed URLs are built on it. Defaults to http://host:port. */
  publicUrl?: string;
  /** Largest file accepted, in bytes. */
  maxFileSize: number;
  /** Largest image accepted, in pixels (width x height): a decompression-bomb guard. */
  maxPixels: number;
  /** How long signed upload URLs stay valid, in seconds. */
  uploadUrlTtlSeconds: number;
  /** How long signed download URLs stay valid, in seconds. */
  downloadUrlTtlSeconds: number;
  /** pino level: `warn` logs problems only, `info` adds start-up, `debug` logs every request. */
  logLevel: string;
  /**
   * Assets a bulk delete removes per transaction: larger batches finish sooner, smaller ones
   * let uploads and reads interleave more finely with a big delete.
   */
  deleteBatchSize: number;
  /** API requests per minute per secret key (0: no limit); over it, 429 with Retry-After. */
  rateLimitPerMinute: number;
  /** Open connections at most; more are refused at once, so file descriptors never run out. */
  maxConnections: number;
  /** Seconds a client may take to send its request headers (slow-header connections are closed). */
  headersTimeoutSeconds: number;
  /** Hours finished, failed and expired upload and bulk-delete sessions are kept before they are purged. */
  sessionRetentionHours: number;
  /**
   * Decoder processes that process uploaded assets (decode, thumbnail, status) in the
   * background; 0 turns processing off (assets then stay `processing` until it runs again).
   */
  processingConcurrency: number;
  /**
   * Scheduling niceness of the decoder processes (0..19): 19, the lowest priority, gives them
   * the CPU that uploads and requests leave over.
   */
  processingNice: number;
  /** Longest side of thumbnails, in pixels. */
  thumbnailSize: number;
  /** Seconds one decode may take before its decoder is stopped. */
  decodeTimeoutSeconds: number;
  /**
   * Bytes in an S3-compatible bucket instead of the data folder (which then holds only
   * scratch space); credentials and region come from the AWS SDK's standard chain.
   */
  s3?: S3Config;
}

export interface S3Config {
  bucket: string;
  /** For stores other than AWS (MinIO, Ceph RGW, R2...): their URL. */
  endpoint?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most self-hosted stores need. */
  forcePathStyle: boolean;
  /** Key prefix, so several deployments can share one bucket. */
  prefix?: string;
  /** [ext] Files above this many bytes also get a multipart target (default 64 MiB). */
  multipartThreshold?: number;
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 8080,
  dataDir: "./vi-data",
  maxFileSize: 10 * 1024 ** 3,
  maxPixels: 268_402_689,
  uploadUrlTtlSeconds: 24 * 3600,
  downloadUrlTtlSeconds: 3600,
  logLevel: "warn",
  deleteBatchSize: 500,
  rateLimitPerMinute: 6000,
  maxConnections: 8192,
  headersTimeoutSeconds: 10,
  sessionRetentionHours: 168,
  processingConcurrency: 1,
  processingNice: 19,
  thumbnailSize: 256,
  decodeTimeoutSeconds: 30,
} as const;

function intFrom(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Options given in code or by CLI flags win over the environment, which wins over defaults. */
export function resolveConfig(options: Partial<ServerConfig> = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const port = options.port ?? intFrom("PORT", env.PORT, DEFAULTS.port);
  if (port > 65_535) throw new Error(`PORT must be at most 65535, got ${port}`);
  const publicUrl = options.publicUrl ?? env.VI_PUBLIC_URL;
  const databaseUrl = options.databaseUrl ?? (env.VI_DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error("VI_DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host:5432/database)");
  }
  return {
    host: options.host ?? env.HOST ?? DEFAULTS.host,
    port,
    dataDir: resolve(options.dataDir ?? env.VI_DATA_DIR ?? DEFAULTS.dataDir),
    ...(publicUrl ? { publicUrl: publicUrl.replace(/\/+$/, "") } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    maxFileSize: options.maxFileSize ?? intFrom("VI_MAX_FILE_SIZE", env.VI_MAX_FILE_SIZE, DEFAULTS.maxFileSize, 1),
    maxPixels: options.maxPixels ?? intFrom("VI_MAX_PIXELS", env.VI_MAX_PIXELS, DEFAULTS.maxPixels, 1),
    uploadUrlTtlSeconds:
      options.uploadUrlTtlSeconds ??
      intFrom("VI_UPLOAD_URL_TTL", env.VI_UPLOAD_URL_TTL, DEFAULTS.uploadUrlTtlSeconds, 1),
    downloadUrlTtlSeconds:
      options.downloadUrlTtlSeconds ??
      intFrom("VI_DOWNLOAD_URL_TTL", env.VI_DOWNLOAD_URL_TTL, DEFAULTS.downloadUrlTtlSeconds, 1),
    logLevel: options.logLevel ?? env.VI_LOG_LEVEL ?? DEFAULTS.logLevel,
    rateLimitPerMinute:
      options.rateLimitPerMinute ?? intFrom("VI_RATE_LIMIT", env.VI_RATE_LIMIT, DEFAULTS.rateLimitPerMinute, 0),
    maxConnections:
      options.maxConnections ?? intFrom("VI_MAX_CONNECTIONS", env.VI_MAX_CONNECTIONS, DEFAULTS.maxConnections, 1),
    headersTimeoutSeconds:
      options.headersTimeoutSeconds ??
      intFrom("VI_HEADERS_TIMEOUT", env.VI_HEADERS_TIMEOUT, DEFAULTS.headersTimeoutSeconds, 1),
    sessionRetentionHours:
      options.sessionRetentionHours ??
      intFrom("VI_SESSION_RETENTION_HOURS", env.VI_SESSION_RETENTION_HOURS, DEFAULTS.sessionRetentionHours, 0),
    deleteBatchSize:
      options.deleteBatchSize ?? intFrom("VI_DELETE_BATCH_SIZE", env.VI_DELETE_BATCH_SIZE, DEFAULTS.deleteBatchSize, 1),
    processingConcurrency:
      options.processingConcurrency ??
      intFrom("VI_PROCESSING_CONCURRENCY", env.VI_PROCESSING_CONCURRENCY, DEFAULTS.processingConcurrency, 0),
    processingNice: Math.min(
      19,
      options.processingNice ?? intFrom("VI_PROCESSING_NICE", env.VI_PROCESSING_NICE, DEFAULTS.processingNice, 0),
    ),
    thumbnailSize:
      options.thumbnailSize ?? intFrom("VI_THUMBNAIL_SIZE", env.VI_THUMBNAIL_SIZE, DEFAULTS.thumbnailSize, 16),
    decodeTimeoutSeconds:
      options.decodeTimeoutSeconds ??
      intFrom("VI_DECODE_TIMEOUT", env.VI_DECODE_TIMEOUT, DEFAULTS.decodeTimeoutSeconds, 1),
    ...s3Config(options.s3, env),
  };
}

function s3Config(given: S3Config | undefined, env: NodeJS.ProcessEnv): { s3?: S3Config } {
  if (given) return { s3: given };
  const bucket = env.VI_S3_BUCKET;
  if (!bucket) {
    if (env.VI_S3_ENDPOINT || env.VI_S3_PREFIX) throw new Error("VI_S3_ENDPOINT and VI_S3_PREFIX need VI_S3_BUCKET");
    return {};
  }
  const style = env.VI_S3_FORCE_PATH_STYLE ?? "";
  if (!["", "0", "1", "true", "false"].includes(style)) {
    throw new Error(`VI_S3_FORCE_PATH_STYLE must be true or false, got ${JSON.stringify(style)}`);
  }
  return {
    s3: {
      bucket,
      forcePathStyle: style === "1" || style === "true",
      ...(env.VI_S3_ENDPOINT ? { endpoint: env.VI_S3_ENDPOINT } : {}),
      ...(env.VI_S3_PREFIX ? { prefix: env.VI_S3_PREFIX } : {}),
      ...(env.VI_S3_MULTIPART_THRESHOLD
        ? { multipartThreshold: intFrom("VI_S3_MULTIPART_THRESHOLD", env.VI_S3_MULTIPART_THRESHOLD, 0, 5 * 1024 ** 2) }
        : {}),
    },
  };
}
