import { truncate } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import BetterSqlite3 from "better-sqlite3";
import { drainBody } from "../blob/local.js";
import type { BlobReader, BlobStore, ByteRange, StagedBlob, StageOptions } from "../blob/blob-store.js";
import type { MetadataStore } from "../metadata/metadata-store.js";

/**
 * Fault injection behind the store interfaces, for tests: what a full disk, a read-only or
 * failing disk and a short write look like to the server, where a real one cannot be had
 * (filling a disk, mounting a file system read-only). The server runs unchanged over wrapped
 * stores (`startServer({ wrapStores: faultyStores(plan) })`); `plan` says which call fails how.
 *
 * - `ENOSPC`: the metadata store throws SQLITE_FULL; the blob store throws ENOSPC (while
 *   staging, after part of the body was written, as a disk fills up mid-file).
 * - `EIO`: SQLITE_IOERR_WRITE / EIO.
 * - `EROFS`: SQLITE_READONLY / EROFS.
 * - `short`: the storage keeps fewer bytes than it acknowledged: a staged file is cut to half
 *   its size (publishing must notice), a read ends halfway (serving must notice). Elsewhere EIO.
 *
 * By default a fault strikes before the operation runs (nothing happened); with `after: true`
 * the operation takes effect and then its answer is an error (a write whose fsync failed).
 */
export type FaultKind = "ENOSPC" | "EIO" | "EROFS" | "short";

export type StoreName = "metadata" | "blobs";

export interface FaultRule {
  /** Which store; both when absent. */
  store?: StoreName;
  /** Which methods: a name, several names, or a test of the name. */
  op: string | readonly string[] | ((op: string) => boolean);
  /** The first matching call to fail, counted from 1 when the rule is added (default 1). */
  at?: number;
  /** `once` (default): only that call. `forever`: that call and every later one, until cleared. */
  times?: "once" | "forever";
  kind: FaultKind;
  /** Fail after the operation took effect instead of before it ran. */
  after?: boolean;
}

export interface InjectedFault {
  store: StoreName;
  op: string;
  kind: FaultKind;
  after: boolean;
}

/** Metadata methods that write (the rest only read). */
export const isMetadataWrite = (op: string): boolean =>
  /^(create|delete|update|commit|fail|purge|settingOrInsert|insert|mark|set|expire)/.test(op);

/** Blob methods that write. */
export const BLOB_WRITES = ["stage", "publish", "discard", "delete", "sweepStaging"] as const;

/** Which calls fail how; rules can be added and cleared while the server runs. */
export class FaultPlan {
  private rules: { rule: FaultRule; seen: number }[] = [];
  /** Every fault injected so far, in order. */
  readonly injected: InjectedFault[] = [];

  fail(rule: FaultRule): this {
    this.rules.push({ rule, seen: 0 });
    return this;
  }

  /** The fault clears: every rule goes, calls succeed again. */
  clear(): this {
    this.rules = [];
    return this;
  }

  /** The fault this call gets, if any (each matching rule counts the call). */
  take(store: StoreName, op: string): FaultRule | undefined {
    let hit: FaultRule | undefined;
    for (const armed of this.rules) {
      const { rule } = armed;
      if ((rule.store && rule.store !== store) || !matches(rule.op, op)) continue;
      armed.seen++;
      const at = rule.at ?? 1;
      const strikes = rule.times === "forever" ? armed.seen >= at : armed.seen === at;
      if (strikes && !hit) hit = rule;
    }
    if (hit) this.injected.push({ store, op, kind: hit.kind, after: hit.after === true });
    return hit;
  }
}

function matches(pattern: FaultRule["op"], op: string): boolean {
  if (typeof pattern === "function") return pattern(op);
  return typeof pattern === "string" ? pattern === op : pattern.includes(op);
}

/** `startServer`'s `wrapStores` hook: both stores wrapped with one plan. */
export const faultyStores =
  (plan: FaultPlan) =>
  (stores: { metadata: MetadataStore; blobs: BlobStore }): { metadata: MetadataStore; blobs: BlobStore } => ({
    metadata: faultyMetadataStore(stores.metadata, plan),
    blobs: new FaultyBlobStore(stores.blobs, plan),
  });

const SQLITE: Record<FaultKind, [code: string, message: string]> = {
  ENOSPC: ["SQLITE_FULL", "database or disk is full"],
  EIO: ["SQLITE_IOERR_WRITE", "disk I/O error"],
  EROFS: ["SQLITE_READONLY", "attempt to write a readonly database"],
  short: ["SQLITE_IOERR_WRITE", "disk I/O error"],
};

/** The error SQLite (through better-sqlite3) raises for this fault. */
export function sqliteFault(kind: FaultKind): Error {
  const [code, message] = SQLITE[kind];
  return new BetterSqlite3.SqliteError(message, code);
}

const ERRNO: Record<Exclude<FaultKind, "short">, [errno: number, description: string]> = {
  ENOSPC: [-28, "no space left on device"],
  EIO: [-5, "i/o error"],
  EROFS: [-30, "read-only file system"],
};

/** The error Node's fs raises for this fault (`short` is EIO there). */
export function errnoFault(kind: FaultKind, syscall: string, path: string): NodeJS.ErrnoException {
  const code = kind === "short" ? "EIO" : kind;
  const [errno, description] = ERRNO[code];
  return Object.assign(new Error(`${code}: ${description}, ${syscall} '${path}'`), { errno, code, syscall, path });
}

/** A MetadataStore whose calls fail as the plan says; every method of the real store passes through. */
export function faultyMetadataStore(inner: MetadataStore, plan: FaultPlan): MetadataStore {
  return new Proxy(inner, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof prop !== "string" || prop === "close" || prop === "migrate") return method.bind(target);
      return async (...args: unknown[]) => {
        const fault = plan.take("metadata", prop);
        if (!fault) return method.apply(target, args);
        if (fault.after) await method.apply(target, args);
        throw sqliteFault(fault.kind);
      };
    },
  });
}

/** A BlobStore whose calls fail as the plan says. */
export class FaultyBlobStore implements BlobStore {
  constructor(
    private readonly inner: BlobStore,
    private readonly plan: FaultPlan,
  ) {}

  get kind(): BlobStore["kind"] {
    return this.inner.kind;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  sweepStaging(): Promise<number> {
    return this.simple("sweepStaging", "scandir", "staging", () => this.inner.sweepStaging());
  }

  async stage(body: Readable, options: StageOptions): Promise<StagedBlob> {
    const fault = this.plan.take("blobs", "stage");
    if (!fault) return this.inner.stage(body, options);
    if (fault.kind === "short") {
      // Acknowledged, but the disk kept only half.
      const staged = await this.inner.stage(body, options);
      await truncate(staged.localPath, Math.floor(staged.size / 2));
      return staged;
    }
    if (fault.after) {
      // Written, then the final fsync failed: the store removes what it wrote.
      const staged = await this.inner.stage(body, options);
      await this.inner.discard(staged);
      throw errnoFault(fault.kind, "fsync", staged.localPath);
    }
    // The disk fills up (or fails) mid-file: the store's write fails after part of the body.
    const error = errnoFault(fault.kind, "write", "staging");
    async function* halfThenFail(): AsyncGenerator<Buffer> {
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        yield chunk.subarray(0, chunk.length >> 1);
        break;
      }
      throw error;
    }
    try {
      return await this.inner.stage(Readable.from(halfThenFail(), { objectMode: false }), options);
    } finally {
      drainBody(body, options.maxBytes);
    }
  }

  async publish(staged: StagedBlob): Promise<void> {
    const fault = this.plan.take("blobs", "publish");
    if (!fault) return this.inner.publish(staged);
    if (fault.after) await this.inner.publish(staged);
    throw errnoFault(fault.kind, fault.after ? "fsync" : "rename", staged.localPath);
  }

  discard(staged: StagedBlob): Promise<void> {
    return this.simple("discard", "unlink", staged.localPath, () => this.inner.discard(staged));
  }

  delete(sha256: string): Promise<void> {
    return this.simple("delete", "unlink", sha256, () => this.inner.delete(sha256));
  }

  size(sha256: string): Promise<number | undefined> {
    return this.simple("size", "stat", sha256, () => this.inner.size(sha256));
  }

  read(sha256: string, range?: ByteRange): Readable {
    const fault = this.plan.take("blobs", "read");
    if (!fault) return this.inner.read(sha256, range);
    if (fault.kind === "short") return cutShort(this.inner.read(sha256, range), half(range));
    const stream = new Readable({ read() {} });
    stream.destroy(errnoFault(fault.kind, "read", sha256));
    return stream;
  }

  async openRead(sha256: string): Promise<BlobReader | undefined> {
    const fault = this.plan.take("blobs", "openRead");
    if (!fault) return this.inner.openRead(sha256);
    if (fault.kind !== "short") throw errnoFault(fault.kind, "open", sha256);
    const reader = await this.inner.openRead(sha256);
    if (!reader) return undefined;
    return {
      size: reader.size,
      stream: (range) => cutShort(reader.stream(range), half(range, reader.size)),
      close: () => reader.close(),
    };
  }

  async *list(): AsyncIterable<string> {
    const fault = this.plan.take("blobs", "list");
    if (fault) throw errnoFault(fault.kind, "scandir", "blobs");
    yield* this.inner.list();
  }

  private async simple<T>(op: string, syscall: string, path: string, run: () => Promise<T>): Promise<T> {
    const fault = this.plan.take("blobs", op);
    if (!fault) return run();
    if (fault.after) await run();
    throw errnoFault(fault.kind, syscall, path);
  }
}

const half = (range: ByteRange | undefined, size = Number.MAX_SAFE_INTEGER): number =>
  Math.floor((range ? range.end - range.start + 1 : size) / 2);

/** The first `limit` bytes of a stream, then its end: a read that came up short. */
function cutShort(source: Readable, limit: number): Readable {
  let left = limit;
  const out = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      if (left <= 0) return done();
      const part = chunk.subarray(0, left);
      left -= part.length;
      done(null, part);
    },
  });
  source.on("error", (err) => out.destroy(err));
  out.on("close", () => source.destroy());
  return source.pipe(out);
}
