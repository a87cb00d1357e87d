import path from "node:path";
import type { Command } from "commander";
import { findCredentialsFile } from "@vi/sdk";
import { DEFAULT_DATA_DIR, ENV } from "../client-options.js";
import { helpText } from "../help.js";
import { actionOf, type ResolvedDeps, type RunState, type StartServerOptions } from "../context.js";
import { CliUsageError } from "../exit-codes.js";
import { intInRange } from "../parse.js";
import { prettyLogStream } from "../pretty-log.js";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8080;

interface ServeOptions {
  host?: string;
  port?: number;
  dataDir?: string;
  databaseUrl?: string;
  s3Bucket?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  s3Prefix?: string;
}

/**
 * The S3 flags, each over its VI_S3_* variable; undefined without any flag (the server then
 * reads the environment itself).
 */
export function resolveS3Options(opts: ServeOptions, env: NodeJS.ProcessEnv): StartServerOptions["s3"] {
  if (!opts.s3Bucket && !opts.s3Endpoint && !opts.s3ForcePathStyle && !opts.s3Prefix) return undefined;
  const bucket = opts.s3Bucket ?? env.VI_S3_BUCKET;
  if (!bucket) throw new CliUsageError("--s3-endpoint and --s3-prefix need a bucket", "pass --s3-bucket <name>");
  const endpoint = opts.s3Endpoint ?? env.VI_S3_ENDPOINT;
  const prefix = opts.s3Prefix ?? env.VI_S3_PREFIX;
  return {
    bucket,
    forcePathStyle: opts.s3ForcePathStyle === true || ["1", "true"].includes(env.VI_S3_FORCE_PATH_STYLE ?? ""),
    ...(endpoint ? { endpoint } : {}),
    ...(prefix ? { prefix } : {}),
  };
}

const parsePort = intInRange(0, 65_535);

/** `serve` flags, else HOST / PORT / VI_DATA_DIR, else 127.0.0.1 / 8080 / ./vi-data. */
export function resolveServeOptions(
  opts: ServeOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { host: string; port: number; dataDir: string; databaseUrl?: string } {
  const host = opts.host ?? (env.HOST || DEFAULT_HOST);
  let port = opts.port;
  if (port === undefined) {
    if (env.PORT) {
      try {
        port = parsePort(env.PORT);
      } catch (e) {
        throw new CliUsageError(`PORT: ${(e as Error).message}`, "set PORT to a port number, or pass --port <n>");
      }
    } else port = DEFAULT_PORT;
  }
  const dataDir = path.resolve(cwd, opts.dataDir ?? (env[ENV.dataDir] || DEFAULT_DATA_DIR));
  // VI_DATABASE_URL itself is read by the server, with the rest of its environment.
  return { host, port, dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export function registerServe(program: Command, deps: ResolvedDeps, state: RunState): void {
  program
    .command("serve")
    .description("run a Vi server on this machine (SQLite + local folder store in the data directory)")
    .option("--host <host>", `interface to listen on (env HOST, default ${DEFAULT_HOST})`)
    .option("--port <n>", `port to listen on, 0 for any free port (env PORT, default ${DEFAULT_PORT})`, parsePort)
    .option(
      "--data-dir <dir>",
      `where the database, the files and credentials.json live (env ${ENV.dataDir}, default ./${DEFAULT_DATA_DIR})`,
    )
    .option(
      "--database-url <url>",
      "PostgreSQL (postgres://...) for the metadata, shared by replicas (env VI_DATABASE_URL, default SQLite)",
    )
    .option(
      "--s3-bucket <name>",
      "keep the bytes in this S3-compatible bucket (env VI_S3_BUCKET; default: the data dir)",
    )
    .option("--s3-endpoint <url>", "the S3-compatible store's URL, for stores other than AWS (env VI_S3_ENDPOINT)")
    .option("--s3-force-path-style", "path-style bucket addressing, which MinIO and most self-hosted stores need")
    .option("--s3-prefix <prefix>", "key prefix inside the bucket (env VI_S3_PREFIX)")
    .addHelpText(
      "after",
      helpText(
        `\nThe server writes an organization's credentials to <data-dir>/credentials.json on first start;\n` +
          `other vi-cli commands run from that directory or one below it (or with ${ENV.dataDir} set) pick it up.\n` +
          `Stops cleanly on Ctrl-C or SIGTERM (exit 0).`,
      ),
    )
    .action(
      actionOf<ServeOptions>(deps, state, async (ctx, opts) => {
        const s3 = resolveS3Options(opts, ctx.deps.env);
        const options = { ...resolveServeOptions(opts, ctx.deps.env, ctx.deps.cwd), ...(s3 ? { s3 } : {}) };
        const { startServer, resolveConfig } = await ctx.deps.loadServer();
        // On a terminal, the server's log lines (pino's JSON, one per request at VI_LOG_LEVEL=debug)
        // are written for a person; piped, they stay JSON for whatever collects them.
        const logLevel =
          ctx.deps.stdout.isTTY && resolveConfig ? resolveConfig(options, ctx.deps.env).logLevel : undefined;
        const server = await startServer(
          logLevel === undefined
            ? options
            : { ...options, logger: { level: logLevel, stream: prettyLogStream(ctx.deps.stdout, true) } },
        );
        // A server started in a subfolder of another's: say that this is a second one.
        const above = server.created ? findCredentialsFile(path.dirname(path.dirname(options.dataDir))) : undefined;
        if (above !== undefined)
          ctx.out.warn(
            `${above} is in a folder above: this is a second server, with an organization of its own. ` +
              `To use that one instead, stop this one and run vi-cli from ${path.dirname(path.dirname(above))}.`,
          );
        ctx.out.result(
          () => {
            ctx.out.line(`Vi server listening on ${server.url}`);
            ctx.out.line(
              `Gallery:        ${galleryUrl(server.url)} (sign in with the organization and secret key below)`,
            );
            ctx.out.line(`Data directory: ${options.dataDir}`);
            if (server.credentialsPath === undefined) {
              // A replica that joined a database another start set up: the key was written there.
              ctx.out.line(`Credentials:    none in ${options.dataDir}`);
              ctx.out.note(
                `This server joined an existing organization: its key is in the credentials.json of the start ` +
                  `that created it (or make more with 'vi-cli keys create'). Press Ctrl-C to stop.`,
              );
              return;
            }
            ctx.out.line(`Credentials:    ${server.credentialsPath}`);
            if (server.created)
              ctx.out.line(
                `Created organization ${server.created.organizationId}: its secret key is in the credentials file (keep it private).`,
              );
            ctx.out.note(
              `Use it from another shell in this directory, or with ${ENV.dataDir}=${options.dataDir} ` +
                `(or --config ${server.credentialsPath}). Press Ctrl-C to stop.`,
            );
          },
          () => ({
            url: server.url,
            galleryUrl: galleryUrl(server.url),
            ...(server.credentialsPath ? { credentialsPath: server.credentialsPath } : {}),
            dataDir: options.dataDir,
            host: options.host,
            port: options.port,
            ...(server.created ? { createdOrganizationId: server.created.organizationId } : {}),
          }),
          true, // one line, so a parent process can read it as soon as the server is up
        );
        await aborted(ctx.signal);
        ctx.out.note("shutting down...");
        await server.close();
        ctx.setExitCode(0);
      }),
    );
}

/** The web gallery's address (the server serves it at /): a browser cannot open a wildcard host, so that is localhost. */
export function galleryUrl(serverUrl: string): string {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    return `${serverUrl}/`;
  }
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "localhost";
  return `${url.origin}/`;
}
