import { readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ID_PATTERN, SECRET_KEY_LENGTH, SECRET_KEY_PATTERN, SECRET_KEY_PREFIX } from "@vi/protocol";
import { ViConfigurationError } from "./core/errors.js";
import { HttpClient } from "./core/http.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./core/retry.js";
import { Annotations } from "./resources/annotations.js";
import { Assets } from "./resources/assets.js";
import { Datasets } from "./resources/datasets.js";
import { Organizations } from "./resources/organizations.js";

export const SDK_VERSION = "0.1.0";
export const DEFAULT_ENDPOINT = "http://127.0.0.1:8080";
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Environment variables the Python client reads, so that one shell setup serves both. */
export const ENV = {
  secretKey: "DATATURE_VI_SECRET_KEY",
  organizationId: "DATATURE_VI_ORGANIZATION_ID",
  endpoint: "DATATURE_VI_API_ENDPOINT",
  configFile: "VI_CONFIG_FILE",
  dataDir: "VI_DATA_DIR",
} as const;

export interface ClientOptions {
  secretKey?: string;
  organizationId?: string;
  endpoint?: string;
  /**
   * A JSON file `{organizationId, secretKey, endpoint}` (snake_case accepted), e.g.
   * `<data dir>/credentials.json`. Without it: `VI_CONFIG_FILE`, else `$VI_DATA_DIR/credentials.json`,
   * else the nearest `vi-data/credentials.json` in the current folder or a folder above it.
   */
  configFile?: string;
  /** Milliseconds per request attempt; default 60 000. */
  timeout?: number;
  /** Retries of a failed request (429, 5xx, network errors); default 3. */
  maxRetries?: number;
}

export interface ResolvedConfig {
  secretKey: string;
  organizationId: string;
  /** The API origin: any path of the configured endpoint is dropped, as the Python client does. */
  origin: string;
  timeout: number;
  maxRetries: number;
}

/** What a config file may hold, under either spelling. */
interface FileConfig {
  secretKey?: string;
  organizationId?: string;
  endpoint?: string;
}

const FILE_KEYS: Record<keyof FileConfig, string[]> = {
  secretKey: ["secretKey", "secret_key"],
  organizationId: ["organizationId", "organization_id"],
  endpoint: ["endpoint", "apiEndpoint", "api_endpoint"],
};

/**
 * What a ViConfigurationError's `details.problem` says went wrong, so that a caller (vi-cli) can
 * word its own hint: nothing configured at all, a value of the wrong shape, a config file that
 * cannot be read or is not JSON, a credentials file found but owned by another user.
 */
export type ConfigProblem = "missing" | "malformed" | "unreadable" | "foreign" | "invalid";

const CONFIG_SUGGESTIONS: Record<ConfigProblem, string> = {
  missing:
    "start the server (npm start, or vi-cli serve) in the folder that is to hold vi-data/, and run from that folder " +
    `or one below it; or set ${ENV.secretKey} and ${ENV.organizationId}, or name a credentials file (configFile, ${ENV.configFile})`,
  malformed:
    `a secret key is "${SECRET_KEY_PREFIX}" and 98 more characters: copy it whole again from where it came ` +
    "(the server's vi-data/credentials.json, or what `vi-cli keys create` printed)",
  unreadable: "check the path and the file: the server writes it as JSON {organizationId, secretKey, endpoint}",
  foreign:
    "a credentials file of another user is not used unless named: name it (configFile, VI_CONFIG_FILE) if you trust it, " +
    "or start your own server",
  invalid: "check the value named",
};

const configError = (
  message: string,
  problem: ConfigProblem,
  details: Record<string, unknown> = {},
  cause?: unknown,
): ViConfigurationError =>
  new ViConfigurationError(message, {
    code: "ConfigurationError",
    suggestion: CONFIG_SUGGESTIONS[problem],
    details: { problem, ...details },
    cause,
  });

function readConfigFile(path: string): FileConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (cause as Error).message;
    throw configError(`cannot read the config file ${path}: ${why}`, "unreadable", { configFile: path }, cause);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw configError(`the config file ${path} is not a JSON object`, "unreadable", { configFile: path });
  }
  const record = parsed as Record<string, unknown>;
  const out: FileConfig = {};
  for (const [field, names] of Object.entries(FILE_KEYS) as [keyof FileConfig, string[]][]) {
    for (const name of names) {
      const value = record[name];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string") {
        throw configError(`the config file ${path}: "${name}" must be a string`, "unreadable", { configFile: path });
      }
      out[field] = value;
      break;
    }
  }
  return out;
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The credentials file a server wrote nearest to `cwd`: `vi-data/credentials.json` in `cwd` or
 * the closest folder above it that has one (as git finds `.git`), or undefined.
 */
export function findCredentialsFile(cwd: string = process.cwd()): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, "vi-data", "credentials.json");
    if (isFile(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The config file to read: the one named, else the server's credentials file if there is one. */
function findConfigFile(
  options: ClientOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { path: string; searched: boolean } | undefined {
  if (options.configFile) return { path: resolve(cwd, options.configFile), searched: false };
  const fromEnv = env[ENV.configFile];
  if (fromEnv) return { path: resolve(cwd, fromEnv), searched: false };
  const dataDir = env[ENV.dataDir];
  if (dataDir) {
    const inDataDir = resolve(cwd, dataDir, "credentials.json");
    return isFile(inDataDir) ? { path: inDataDir, searched: false } : undefined;
  }
  const found = findCredentialsFile(cwd);
  return found === undefined ? undefined : { path: found, searched: true };
}

/**
 * A credentials file found by looking upward is used only when it is the user's own: one that
 * another user left in a shared parent folder (/tmp/vi-data, say) could point the client at
 * their server. A file named explicitly is the caller's choice.
 */
function checkOwner(path: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const owner = statSync(path).uid;
  if (owner !== uid) {
    throw configError(
      `found the credentials file ${path}, but it belongs to another user (uid ${owner}): not used`,
      "foreign",
      { configFile: path },
    );
  }
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value.trim();

/**
 * Resolves each setting from, in order: the explicit option, its environment variable, the
 * config file (the `configFile` option, else `VI_CONFIG_FILE`, else `$VI_DATA_DIR/credentials.json`,
 * else the nearest `vi-data/credentials.json` in `cwd` or a folder above it), then the default. Throws ViConfigurationError
 * naming what is missing or malformed, and where it came from, never echoing the key itself.
 */
export function resolveConfig(
  options: ClientOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ResolvedConfig {
  const sources: Record<keyof FileConfig, string> = { secretKey: "", organizationId: "", endpoint: "" };
  const pick = (field: keyof FileConfig, envName: string): string | undefined => {
    const explicit = nonEmpty(options[field]);
    if (explicit !== undefined) {
      sources[field] = `the ${field} option`;
      return explicit;
    }
    const fromEnv = nonEmpty(env[envName]);
    if (fromEnv !== undefined) sources[field] = envName;
    return fromEnv;
  };
  let secretKey = pick("secretKey", ENV.secretKey);
  let organizationId = pick("organizationId", ENV.organizationId);
  let endpoint = pick("endpoint", ENV.endpoint);

  const found = findConfigFile(options, env, cwd);
  const file = found?.path;
  if (
    found !== undefined &&
    (secretKey === undefined || organizationId === undefined || endpoint === undefined || options.configFile)
  ) {
    if (found.searched) checkOwner(found.path);
    const fromFile = readConfigFile(found.path);
    const fill = (field: keyof FileConfig, current: string | undefined): string | undefined => {
      if (current !== undefined) return current;
      const value = nonEmpty(fromFile[field]);
      if (value !== undefined) sources[field] = `the config file ${file}`;
      return value;
    };
    secretKey = fill("secretKey", secretKey);
    organizationId = fill("organizationId", organizationId);
    endpoint = fill("endpoint", endpoint);
  }

  const looked =
    file !== undefined
      ? `the option, ${ENV.secretKey}, or the config file ${file}`
      : env[ENV.dataDir]
        ? `the option, ${ENV.secretKey}, or a config file: there is no ${resolve(cwd, env[ENV.dataDir] ?? "", "credentials.json")} ($${ENV.dataDir})`
        : `the option, ${ENV.secretKey}, or a config file (configFile, ${ENV.configFile}, $${ENV.dataDir}/credentials.json): ` +
          `there is no vi-data/credentials.json in ${resolve(cwd)} or any folder above it`;
  if (secretKey === undefined)
    throw configError(`no secret key: none was given through ${looked}`, "missing", { setting: "secretKey" });
  if (!SECRET_KEY_PATTERN.test(secretKey)) {
    const shape = secretKey.startsWith(SECRET_KEY_PREFIX)
      ? `${secretKey.length} characters`
      : `no "${SECRET_KEY_PREFIX}" prefix`;
    throw configError(
      `the secret key from ${sources.secretKey} is malformed (${shape}): expected "${SECRET_KEY_PREFIX}" followed by 98 of [A-Za-z0-9_-], ${SECRET_KEY_LENGTH} characters in all`,
      "malformed",
      { setting: "secretKey", source: sources.secretKey },
    );
  }
  if (organizationId === undefined) {
    const looked = `the option, ${ENV.organizationId}, or ${file === undefined ? "a config file" : `the config file ${file}`}`;
    throw configError(`no organization id: none was given through ${looked}`, "missing", {
      setting: "organizationId",
    });
  }
  if (!new RegExp(ID_PATTERN).test(organizationId)) {
    throw configError(
      `the organization id from ${sources.organizationId} is malformed: expected 1 to 255 of [A-Za-z0-9-]`,
      "invalid",
      { setting: "organizationId", source: sources.organizationId },
    );
  }

  let origin: string;
  try {
    const url = new URL(endpoint ?? DEFAULT_ENDPOINT);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`unsupported scheme ${url.protocol}`);
    origin = url.origin;
  } catch (cause) {
    throw configError(
      `the endpoint from ${sources.endpoint || "the default"} is not an http(s) URL: ${(cause as Error).message}`,
      "invalid",
      { setting: "endpoint", source: sources.endpoint },
      cause,
    );
  }

  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeout) || timeout <= 0)
    throw configError(`timeout must be a positive number of milliseconds, got ${timeout}`, "invalid");
  const maxRetries = options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries;
  if (!Number.isInteger(maxRetries) || maxRetries < 0)
    throw configError(`maxRetries must be a whole number >= 0, got ${maxRetries}`, "invalid");
  return { secretKey, organizationId, origin, timeout, maxRetries };
}

/** What the resources share: the HTTP layer and the organization every path names. */
export interface ClientContext {
  http: HttpClient;
  organizationId: string;
}

/** The Vi API client. */
export class Client {
  readonly organizations: Organizations;
  readonly datasets: Datasets;
  readonly assets: Assets;
  readonly annotations: Annotations;
  readonly organizationId: string;
  /** The API origin requests go to. */
  readonly endpoint: string;
  readonly #http: HttpClient;

  constructor(options: ClientOptions = {}) {
    const config = resolveConfig(options);
    const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxRetries: config.maxRetries };
    this.#http = new HttpClient({
      origin: config.origin,
      timeout: config.timeout,
      retry,
      headers: {
        authorization: `Bearer ${config.secretKey}`,
        "organization-id": config.organizationId,
        "user-agent": `vi-sdk-ts/${SDK_VERSION} node/${process.versions.node}`,
      },
    });
    this.organizationId = config.organizationId;
    this.endpoint = config.origin;
    const context: ClientContext = { http: this.#http, organizationId: config.organizationId };
    this.organizations = new Organizations(context);
    this.datasets = new Datasets(context);
    this.assets = new Assets(context, this.organizations);
    this.annotations = new Annotations(context);
  }

  /** Closes the kept-alive connections. The client is unusable afterwards. */
  async close(): Promise<void> {
    await this.#http.close();
  }
}
