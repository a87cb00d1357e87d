import type { Stats } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { digestFile, type FileDigest } from "./checksum.js";

/** What identifies a file's contents without reading them, as rsync and restic decide it. */
type Fingerprint = [dev: number, ino: number, size: number, mtimeMs: number, ctimeMs: number];
type Entry = [...Fingerprint, crc32c: number, sha256: string];

const VERSION = 1;
/** Enough for every file of several large datasets; the oldest entries go first beyond it. */
const MAX_ENTRIES = 1_000_000;

export function defaultDigestCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.VI_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "vi");
  return join(base, "digests.json");
}

/**
 * Remembers the digests of files by path and fingerprint (device, inode, size, modification
 * and change times), so that re-running an upload of an unchanged folder reads no file: only
 * a stat each. Any change to a file changes its ctime, so a stale digest is never used; a
 * digest is stored only when the file's fingerprint is the same before and after reading it.
 */
export class DigestCache {
  private entries = new Map<string, Entry>();
  /** Paths digested by this process: on save they win over what another process wrote meanwhile. */
  private readonly learned = new Map<string, Entry>();
  private dirty = false;

  private constructor(private readonly path: string) {}

  static async open(path: string): Promise<DigestCache> {
    const cache = new DigestCache(path);
    cache.entries = await readEntries(path);
    return cache;
  }

  async digest(path: string, signal?: AbortSignal): Promise<FileDigest> {
    const key = resolve(path);
    const before = await fingerprint(key);
    const hit = this.entries.get(key);
    if (hit && sameFingerprint(hit, before)) return { size: before[2], crc32c: hit[5], sha256: hit[6] };
    const digest = await digestFile(key, signal);
    const after = await fingerprint(key);
    if (sameFingerprint(before, after) && digest.size === after[2]) {
      const entry: Entry = [...after, digest.crc32c, digest.sha256];
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.learned.set(key, entry);
      this.dirty = true;
    }
    return digest;
  }

  /**
   * The remembered digest of a file whose stat the caller took (one stat per file, no read), or
   * undefined when it is not known at that fingerprint.
   */
  known(path: string, stats: FileStats): FileDigest | undefined {
    const hit = this.entries.get(resolve(path));
    if (!hit || !sameFingerprint(hit, toFingerprint(stats))) return undefined;
    return { size: stats.size, crc32c: hit[5], sha256: hit[6] };
  }

  /**
   * Remembers the digest of a file this process wrote and verified itself (a download), with its
   * stat taken after it was renamed into place, so that a later run need not read it again.
   */
  remember(path: string, stats: FileStats, digest: FileDigest): void {
    if (digest.size !== stats.size) return;
    const key = resolve(path);
    const entry: Entry = [...toFingerprint(stats), digest.crc32c, digest.sha256];
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.learned.set(key, entry);
    this.dirty = true;
  }

  /** Writes the cache atomically; failures are ignored (a read-only home must not fail uploads). */
  async save(): Promise<void> {
    if (!this.dirty) return;
    // Two uploads at once (two terminals, or parallel jobs) share the file: what the other one
    // saved since this one opened it is kept, and this one's own digests are added over it.
    const merged = await readEntries(this.path);
    for (const [key, entry] of this.learned) {
      merged.delete(key);
      merged.set(key, entry);
    }
    this.entries = merged;
    const excess = this.entries.size - MAX_ENTRIES;
    if (excess > 0) for (const key of [...this.entries.keys()].slice(0, excess)) this.entries.delete(key);
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
      await writeFile(tmp, JSON.stringify({ version: VERSION, entries: Object.fromEntries(this.entries) }));
      await rename(tmp, this.path);
      this.dirty = false;
      this.learned.clear();
    } catch {
      // Best effort.
    }
  }
}

/** The fields of a stat that make a fingerprint. */
export type FileStats = Pick<Stats, "dev" | "ino" | "size" | "mtimeMs" | "ctimeMs">;

const toFingerprint = (s: FileStats): Fingerprint => [s.dev, s.ino, s.size, s.mtimeMs, s.ctimeMs];

async function fingerprint(path: string): Promise<Fingerprint> {
  return toFingerprint(await stat(path));
}

async function readEntries(path: string): Promise<Map<string, Entry>> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as { version?: number; entries?: Record<string, Entry> };
    if (parsed.version === VERSION && parsed.entries) return new Map(Object.entries(parsed.entries));
  } catch {
    // No cache yet, or an unreadable one: start afresh, it is only a cache.
  }
  return new Map();
}

function sameFingerprint(a: readonly (number | string)[], b: Fingerprint): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4];
}
