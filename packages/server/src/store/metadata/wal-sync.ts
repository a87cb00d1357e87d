import { open, type FileHandle } from "node:fs/promises";

/**
 * Flushes SQLite's write-ahead log to disk off the event loop. Callers that committed before
 * calling share the next flush: a flush already running may have started before their commit,
 * so they wait for the one after it. One flush in flight at a time, however many callers.
 */
export class WalSync {
  private file: FileHandle | undefined;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly path: string) {}

  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.flush().finally(() => (this.running = undefined));
      return this.running;
    }
    this.next ??= this.running.then(() => {
      this.next = undefined;
      return this.sync();
    });
    return this.next;
  }

  async close(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.file?.close();
    this.file = undefined;
  }

  private async flush(): Promise<void> {
    // The WAL exists once the first write happened; it is never deleted while the database is open.
    this.file ??= await open(this.path, "r+");
    await this.file.datasync();
  }
}
