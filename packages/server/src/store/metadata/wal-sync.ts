import { open, type FileHandle } from "node:fs/promises";

/**
 * Flushes SQLite's write-ahead log to disk off the event loop. Callers that committed before
 * calling share the next flush: a flush already running may have started before their commit,
 * so they wait for the one after it. One flush in flight at a time, however many callers.
 *
 * A flush that fails stops all later writes until the process restarts (`failure`): after a
 * failed fsync the kernel may have dropped the log's dirty pages and a later fsync can succeed
 * without them, so a write acknowledged after it could vanish at the next start, when SQLite
 * replays the log from disk (PostgreSQL stops for the same reason). Reads go on.
 */
export class WalSync {
  private file: FileHandle | undefined;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private failed: (Error & { code?: string }) | undefined;

  constructor(private readonly path: string) {}

  /** Why writes stopped (a failed flush, with its errno as `code`), or undefined while they work. */
  get failure(): (Error & { code?: string }) | undefined {
    return this.failed;
  }

  sync(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (!this.running) {
      this.running = this.flush().finally(() => (this.running = undefined));
      return this.running;
    }
    this.next ??= this.running.then(
      () => {
        this.next = undefined;
        return this.sync();
      },
      (err: unknown) => {
        this.next = undefined;
        throw err;
      },
    );
    return this.next;
  }

  async close(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
  }

  private async flush(): Promise<void> {
    try {
      // The WAL exists once the first write happened; it is never deleted while the database is open.
      this.file ??= await open(this.path, "r+");
      await this.file.datasync();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Not opening the log (e.g. made read-only) loses nothing yet: the next flush tries again.
      if (!this.file) throw err;
      this.failed = Object.assign(
        new Error(
          `flushing the database's write-ahead log failed (${code ?? String(err)}); writes stay refused until the server restarts, so that none is acknowledged without being durable`,
          { cause: err },
        ),
        // A full disk stays a full disk; any other failure of a flush is an I/O error.
        { code: code === "ENOSPC" || code === "EDQUOT" ? code : "EIO" },
      );
      throw this.failed;
    }
  }
}
