import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { KeyedMutex, type Locks } from "../../util/keyed-mutex.js";
import { newPool, redactUrl } from "./postgres.js";

/**
 * What replicas on one PostgreSQL database coordinate through it, besides rows: locks held
 * across work that is not one transaction (publishing bytes, then committing their row), and
 * wake-ups of long-polls waiting on another replica's change.
 */
export interface Coordination {
  locks(namespace: string): Locks;
  /** An emitter whose `emit` also reaches the emitters of the same channel in every other replica. */
  channel(name: string): EventEmitter;
  close(): Promise<void>;
}

/** Lock holders at once per replica (each holds a connection for as long as it holds its locks). */
const LOCK_CONNECTIONS = 32;
const RELISTEN_MS = 1000;

export async function openCoordination(url: string): Promise<Coordination> {
  const lockPool = newPool(url, LOCK_CONNECTIONS);
  // Notifications are sent through a small pool of their own, never waiting behind locks.
  const notifyPool = newPool(url, 4);
  const origin = randomBytes(8).toString("hex");
  const channels = new Map<string, ChannelEmitter>();
  const listener = new Listener(url, (channel, payload) => channels.get(channel)?.receive(payload));
  try {
    await listener.start();
  } catch (err) {
    await Promise.all([lockPool.end(), notifyPool.end()]);
    throw new Error(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  return {
    locks: (namespace) => new AdvisoryLocks(lockPool, namespace),
    channel(name) {
      const channel = `vi_${name}`;
      let emitter = channels.get(channel);
      if (!emitter) {
        emitter = new ChannelEmitter(notifyPool, channel, origin);
        channels.set(channel, emitter);
        listener.listen(channel);
      }
      return emitter;
    },
    async close() {
      await listener.stop();
      await Promise.all([lockPool.end(), notifyPool.end()]);
    },
  };
}

/**
 * Locks across replicas: PostgreSQL advisory locks of one transaction, held on a connection of
 * their own while `work` runs (work uses the store's pool, so holders never starve it). In
 * front of them an in-process mutex, so that waiters in one process queue there instead of each
 * taking a connection.
 */
class AdvisoryLocks implements Locks {
  private readonly local = new KeyedMutex();

  constructor(
    private readonly pool: pg.Pool,
    private readonly namespace: string,
  ) {}

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.runAll([key], work);
  }

  runAll<T>(keys: Iterable<string>, work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    return this.local.runAll(sorted, async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query("begin");
        // Sorted in SQL too, so that two replicas taking overlapping sets never deadlock.
        await client.query(
          "select count(pg_advisory_xact_lock(hashtextextended(k, 0))) from (select unnest($1::text[]) as k order by 1) s",
          [sorted.map((k) => `${this.namespace}:${k}`)],
        );
        return await work();
      } finally {
        // Ending the transaction releases the locks; a connection that cannot end it is dropped
        // (which releases them too).
        await client.query("rollback").catch(() => (broken = true));
        client.release(broken);
      }
    });
  }
}

/**
 * An EventEmitter that also NOTIFYs every other replica; what they send is emitted here. Its own
 * notifications come back through LISTEN and are skipped (they were emitted locally already).
 */
class ChannelEmitter extends EventEmitter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
    private readonly origin: string,
  ) {
    super();
    this.setMaxListeners(0);
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const heard = super.emit(event, ...args);
    // EventEmitter emits these itself whenever a long-poll starts or stops listening: local only.
    if (typeof event === "string" && event !== "newListener" && event !== "removeListener") {
      const payload = JSON.stringify({ o: this.origin, e: event, a: args });
      // A lost notification costs a long-poll one polling interval, never a wrong answer.
      if (payload.length < 7900) this.pool.query("select pg_notify($1, $2)", [this.channel, payload]).catch(() => {});
    }
    return heard;
  }

  receive(payload: string): void {
    try {
      const { o, e, a } = JSON.parse(payload) as { o: string; e: string; a: unknown[] };
      if (o !== this.origin) super.emit(e, ...a);
    } catch {
      // Not ours: ignored.
    }
  }
}

/** One LISTEN connection; it reconnects after an error, and long-polls poll in the meantime. */
class Listener {
  private client: pg.Client | undefined;
  private readonly channels = new Set<string>();
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly deliver: (channel: string, payload: string) => void,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on("notification", (n) => this.deliver(n.channel, n.payload ?? ""));
    client.on("error", () => this.reconnect(client));
    client.on("end", () => this.reconnect(client));
    await client.connect();
    this.client = client;
    for (const c of this.channels) await client.query(`listen ${c}`);
  }

  listen(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    this.client?.query(`listen ${channel}`).catch(() => this.reconnect(this.client));
  }

  private reconnect(client: pg.Client | undefined): void {
    if (this.stopped || client !== this.client) return;
    this.client = undefined;
    client?.end().catch(() => {});
    this.retry = setTimeout(() => {
      this.start().catch(() => this.reconnect(undefined));
    }, RELISTEN_MS);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => {});
  }
}
