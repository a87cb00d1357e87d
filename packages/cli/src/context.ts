import type { Command } from "commander";
import { Client } from "@vi/sdk";
import { SECRET_KEY_FLAG_WARNING, toClientOptions, type ClientOptions, type GlobalOptions } from "./client-options.js";
import type { ExitCode } from "./exit-codes.js";
import { Output, type JsonError, type Writable } from "./output.js";

/**
 * The part of the SDK's `Client` that vi-cli uses. Tests inject an object of this shape through
 * `CliDeps.createClient` (a seam at the SDK's public surface, not a mock of its internals).
 */
export interface CliClient {
  organizations: Pick<Client["organizations"], "get" | "createKey" | "listKeys" | "revokeKey">;
  datasets: Pick<Client["datasets"], "create" | "list" | "get" | "delete" | "bulkDeleteAssets" | "reprocess">;
  assets: Pick<
    Client["assets"],
    "upload" | "waitUntilDone" | "list" | "count" | "get" | "update" | "updateMany" | "delete" | "download"
  >;
  annotations: Pick<Client["annotations"], "create" | "list" | "get" | "delete">;
  /** Closes kept-alive connections (the SDK's `Client.close`); called once the command is done. */
  close?: () => Promise<void>;
}

export type ClientFactory = (options: ClientOptions) => CliClient;

/** What `vi-cli serve` needs from `@vi/server` (loaded lazily, at runtime only). */
export interface StartServerOptions {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL for the metadata (unset: the server reads VI_DATABASE_URL, else embedded SQLite). */
  databaseUrl?: string;
  /** Bytes in an S3-compatible bucket (flags; else the server reads VI_S3_* itself). */
  s3?: { bucket: string; endpoint?: string; forcePathStyle: boolean; prefix?: string };
  /** pino options for the server's logger (its level, and where it writes). */
  logger?: { level: string; stream?: { write(chunk: string): unknown } };
}
export interface RunningServer {
  url: string;
  /** Absent when this start joined an organization created elsewhere (no credentials file here). */
  credentialsPath?: string;
  /** Present when this start created the organization (the first start on a data directory). */
  created?: { organizationId: string };
  close(): Promise<void>;
}
export interface ServerModule {
  startServer(options: StartServerOptions): Promise<RunningServer>;
  /** The server's own reading of its settings (VI_LOG_LEVEL and its default among them). */
  resolveConfig?(options: Partial<StartServerOptions>, env?: NodeJS.ProcessEnv): { logLevel: string };
  /** The scrub of a stopped server's data folder (`vi-cli fsck`). */
  fsck?(options: { dataDir: string; quarantine?: boolean; s3?: StartServerOptions["s3"] }): Promise<FsckReport>;
  /** A new organization in a stopped server's data folder (`vi-cli orgs create`). */
  createOrganizationIn?(
    dataDir: string,
    name: string,
  ): Promise<{ organizationId: string; secretKey: string; name: string }>;
}

/** What `vi-cli fsck` reports (the server's FsckReport, in the parts the CLI shows). */
export interface FsckReport {
  dataDir: string;
  blobsChecked: number;
  bytesChecked: number;
  damaged: { sha256: string; problem: string; quarantinedTo?: string }[];
  assetsWithoutBytes: { orgId: string; datasetId: string; assetId: string; filename: string; problem: string }[];
  thumbnailsWithoutBytes: { orgId: string; datasetId: string; assetId: string; filename: string; problem: string }[];
  unreferencedBlobs: { sha256: string; size: number }[];
  strayFiles: string[];
  stagingFiles: number;
  clean: boolean;
}

/** Everything the program touches outside itself; each has a real default. */
export interface CliDeps {
  createClient?: ClientFactory;
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborted on SIGINT/SIGTERM: passed to every SDK call; `serve` shuts down on it. */
  signal?: AbortSignal;
  /** Whether a human can answer a confirmation (stdin and stderr are terminals). */
  isInteractive?: () => boolean;
  /** Asks a yes/no question; resolves true on yes. */
  confirm?: (question: string) => Promise<boolean>;
  loadServer?: () => Promise<ServerModule>;
}

export type ResolvedDeps = Required<CliDeps>;

/** The module specifier is a variable so TypeScript does not resolve `@vi/server` (runtime import only). */
const SERVER_MODULE = "@vi/server";

async function defaultConfirm(question: string): Promise<boolean> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // On a terminal, readline reads Ctrl-C itself (no signal reaches the process): it means "no".
  const interrupted = new Promise<string>((resolve) => rl.once("SIGINT", () => resolve("")));
  const closed = new Promise<string>((resolve) => rl.once("close", () => resolve("")));
  try {
    const answer = await Promise.race([rl.question(`${question} [y/N] `), interrupted, closed]);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function resolveDeps(deps: CliDeps = {}): ResolvedDeps {
  return {
    createClient: deps.createClient ?? ((options) => new Client(options)),
    stdout: deps.stdout ?? process.stdout,
    stderr: deps.stderr ?? process.stderr,
    env: deps.env ?? process.env,
    cwd: deps.cwd ?? process.cwd(),
    signal: deps.signal ?? new AbortController().signal,
    isInteractive: deps.isInteractive ?? (() => Boolean(process.stdin.isTTY && process.stderr.isTTY)),
    confirm: deps.confirm ?? defaultConfirm,
    loadServer: deps.loadServer ?? (async () => (await import(SERVER_MODULE)) as ServerModule),
  };
}

/** What a command's action gets. */
export interface CommandContext {
  readonly out: Output;
  readonly globals: GlobalOptions;
  readonly deps: ResolvedDeps;
  readonly signal: AbortSignal;
  /** The SDK client, built on first use from the global flags (serve never builds one). */
  client(): CliClient;
  /** Sets the exit code of a run that otherwise completes (e.g. 1 for a partial failure). */
  setExitCode(code: ExitCode): void;
  /** See `RunState.closeJsonWithError`; `undefined` once the document is complete. */
  streamingJson(close: ((error: JsonError) => void) | undefined): void;
}

export interface RunState {
  exitCode: ExitCode;
  /** Run once the command is over, whatever its outcome (closes the client). */
  cleanups: (() => Promise<void>)[];
  /** Set once a command's action starts, so errors print in the right mode. */
  mode?: { json: boolean; quiet: boolean };
  /**
   * Set while a command streams a JSON document to stdout: an error must then close that
   * document (as its `error` member) rather than print a second one.
   */
  closeJsonWithError?: ((error: JsonError) => void) | undefined;
}

export function makeContext(command: Command, deps: ResolvedDeps, state: RunState): CommandContext {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const mode = { json: Boolean(globals.json), quiet: Boolean(globals.quiet) };
  state.mode = mode;
  const out = new Output(deps.stdout, deps.stderr, mode);
  let client: CliClient | undefined;
  state.cleanups.push(async () => {
    await client?.close?.();
  });
  return {
    out,
    globals,
    deps,
    signal: deps.signal,
    client() {
      if (!client) {
        if (globals.secretKey !== undefined) out.warn(SECRET_KEY_FLAG_WARNING);
        client = deps.createClient(toClientOptions(globals, deps.cwd));
      }
      return client;
    },
    setExitCode(code) {
      state.exitCode = code;
    },
    streamingJson(close) {
      state.closeJsonWithError = close;
    },
  };
}

/**
 * Wraps a command handler as a commander action: the handler gets the context, the command's
 * options and its positional arguments (after their parsers ran).
 */
export function actionOf<O>(
  deps: ResolvedDeps,
  state: RunState,
  handler: (ctx: CommandContext, opts: O, args: unknown[]) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    await handler(
      makeContext(command, deps, state),
      command.opts<O & Record<string, unknown>>(),
      command.processedArgs,
    );
  };
}
