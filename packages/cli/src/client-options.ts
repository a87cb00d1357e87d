import { ENV } from "@vi/sdk";
import path from "node:path";
import type { Client } from "@vi/sdk";

/** The SDK's constructor options. */
export type ClientOptions = NonNullable<ConstructorParameters<typeof Client>[0]>;

/** The global flags, as commander parses them. */
export interface GlobalOptions {
  endpoint?: string;
  secretKey?: string;
  organizationId?: string;
  config?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Environment variables: the SDK's own names (it reads them itself; `serve` reads VI_DATA_DIR, HOST and PORT). */
export { ENV };

export const DEFAULT_DATA_DIR = "vi-data";
export const CREDENTIALS_FILE = "credentials.json";

export const SECRET_KEY_FLAG_WARNING =
  `--secret-key is visible in your shell history and in process listings; ` +
  `prefer the ${ENV.secretKey} environment variable or --config <file>`;

/**
 * Global flags -> SDK options. Only what the user gave is set, so the SDK's own resolution
 * applies to the rest: flag, then DATATURE_VI_* environment variables, then the config file
 * (`--config`, else VI_CONFIG_FILE, else `$VI_DATA_DIR/credentials.json`, else the nearest
 * `vi-data/credentials.json` in the current folder or a folder above it), then the SDK's defaults.
 */
export function toClientOptions(g: GlobalOptions, cwd: string = process.cwd()): ClientOptions {
  const options: ClientOptions = {};
  if (g.endpoint !== undefined) options.endpoint = g.endpoint;
  if (g.secretKey !== undefined) options.secretKey = g.secretKey;
  if (g.organizationId !== undefined) options.organizationId = g.organizationId;
  if (g.config !== undefined) options.configFile = path.resolve(cwd, g.config);
  return options;
}
