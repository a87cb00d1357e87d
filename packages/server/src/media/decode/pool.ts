/**
 * A bounded set of decoder processes. Each decode runs in a child process (worker.ts, forked)
 * rather than a worker thread: a native crash in libvips or libheif, or a wasm abort, must cost
 * one decode, never the server. The pool enforces the time and memory limits from outside (a
 * process stuck in native code cannot police itself); the pixel limit is checked inside, on the
 * header, before any pixel is decoded.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { setPriority } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DecodeMessage, ReadyMessage, ResultMessage } from "./protocol.js";
import {
  DecodeError,
  type DecodedImage,
  type DecodeLimits,
  type DecoderPool,
  type DecoderPoolOptions,
  type DecodeRequest,
  type ThumbnailSpec,
} from "./types.js";

export const DEFAULT_LIMITS: DecodeLimits = { maxPixels: 100_000_000, timeoutMs: 30_000, maxRssBytes: 1024 ** 3 };
export const DEFAULT_THUMBNAIL: ThumbnailSpec = { maxSide: 256, format: "webp", quality: 80 };
const DEFAULT_IDLE_MS = 10_000;
const RSS_POLL_MS = 100;
/** Loading sharp and Node takes ~0.2 s; a process that has not said it is ready by this is broken. */
const STARTUP_MS = 20_000;

/** The pool, plus what tests and operators may look at. */
export interface DecoderProcessPool extends DecoderPool {
  /** The decoder processes alive now, and whether each is decoding. */
  processes(): { pid: number; busy: boolean }[];
}

/**
 * The child must run compiled JS. From dist, worker.js sits beside this module; run from source
 * (vitest imports src/), the build's copy in dist is used, so tests need `npm run build` first.
 */
export function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return join(dirname(here), "worker.js");
  return resolve(dirname(here), "../../../dist/media/decode/worker.js");
}

interface Job {
  id: number;
  request: DecodeRequest;
  resolve: (image: DecodedImage) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  child: ChildProcess;
  job?: Job;
  /** Why the pool killed the process, if it did: what the running job is rejected with. */
  killReason?: unknown;
  timers: NodeJS.Timeout[];
  idleTimer?: NodeJS.Timeout;
  /** Loaded and listening: a decode's time limit counts from here, not from the fork. */
  ready: boolean;
  startupTimer?: NodeJS.Timeout;
  stderr: string;
}

export function createDecoderPool(options: DecoderPoolOptions = {}): DecoderProcessPool {
  const limits: DecodeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const nice = Math.min(19, Math.max(0, options.nice ?? 10));
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  const entry = workerEntry();
  // The JS heap holds little (pixels live in native or wasm memory, which the RSS poll watches);
  // a cap well under the RSS limit makes a runaway script fail fast, as ELIMIT below.
  const heapMb = Math.round(Math.min(1024, Math.max(128, limits.maxRssBytes / 1024 ** 2 / 2)));
  const slots = new Set<Slot>();
  const queue: Job[] = [];
  const exits = new Map<Slot, Promise<void>>();
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const child = fork(entry, [], {
      serialization: "advanced",
      execArgv: [`--max-old-space-size=${heapMb}`],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      // libuv's pool serves sharp's async calls; one decode at a time needs few threads.
      env: { ...process.env, UV_THREADPOOL_SIZE: "2" },
    });
    const slot: Slot = { child, timers: [], stderr: "", ready: false };
    slot.startupTimer = setTimeout(
      () => kill(slot, new DecodeError("ECRASH", `the decoder process did not start within ${STARTUP_MS} ms`)),
      STARTUP_MS,
    );
    slot.startupTimer.unref();
    slots.add(slot);
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, nice);
      } catch {
        // Not permitted here (some containers): the decode still runs, at normal priority.
      }
    }
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      slot.stderr = (slot.stderr + text).slice(-2000);
    });
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    child.on("message", (message: ResultMessage | ReadyMessage) => {
      if ("ready" in message) {
        slot.ready = true;
        clearTimeout(slot.startupTimer);
        if (slot.job) watch(slot, slot.job);
        return;
      }
      const job = slot.job;
      if (!job || job.id !== message.id || slot.killReason !== undefined) return;
      settle(slot);
      if (message.ok) job.resolve(revive(message.image));
      else job.reject(new DecodeError(message.code, message.message));
      idle(slot);
      pump();
    });
    exits.set(
      slot,
      new Promise((done) => {
        const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
          slots.delete(slot);
          exits.delete(slot);
          clearTimeout(slot.idleTimer);
          clearTimeout(slot.startupTimer);
          const job = slot.job;
          if (job) {
            settle(slot);
            job.reject(slot.killReason ?? died(code, signal, slot.stderr));
          }
          done();
          pump();
        };
        child.once("exit", onExit);
        // Always listened to: an unheard 'error' would throw in the server. A failed fork (no
        // pid) gets no exit event; a failed send or kill is followed by the exit that settles it.
        child.on("error", (error) => {
          if (child.pid === undefined && slots.has(slot)) {
            slot.killReason ??= new DecodeError("ECRASH", `decoder process did not start: ${error.message}`);
            onExit(null, null);
          }
        });
      }),
    );
    return slot;
  }

  function kill(slot: Slot, reason: unknown): void {
    slot.killReason ??= reason;
    slot.child.kill("SIGKILL");
  }

  function start(slot: Slot, job: Job): void {
    slot.job = job;
    clearTimeout(slot.idleTimer);
    slot.child.ref();
    slot.child.channel?.ref();
    const message: DecodeMessage = { id: job.id, request: job.request, maxPixels: limits.maxPixels };
    slot.child.send(message);
    if (slot.ready) watch(slot, job);
  }

  /** The time limit and the memory poll of a running decode. */
  function watch(slot: Slot, job: Job): void {
    slot.timers.push(
      setTimeout(
        () => kill(slot, new DecodeError("ETIMEOUT", `the decode took longer than ${limits.timeoutMs} ms`)),
        limits.timeoutMs,
      ),
    );
    const pid = slot.child.pid;
    if (pid !== undefined) {
      slot.timers.push(
        setInterval(() => {
          void residentBytes(pid).then((rss) => {
            if (rss !== undefined && rss > limits.maxRssBytes && slot.job === job) {
              const mib = (n: number): string => `${Math.round(n / 1024 ** 2)} MiB`;
              kill(
                slot,
                new DecodeError("ELIMIT", `the decoder used ${mib(rss)}, over the ${mib(limits.maxRssBytes)} limit`),
              );
            }
          });
        }, RSS_POLL_MS),
      );
    }
  }

  /** The running job is over (answered or its process gone): stop its watchers. */
  function settle(slot: Slot): void {
    for (const timer of slot.timers) clearTimeout(timer);
    slot.timers = [];
    const job = slot.job;
    if (job?.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    slot.job = undefined;
  }

  /** An idle process does not keep the server (or a test) alive, and ends after idleMs. */
  function idle(slot: Slot): void {
    slot.child.unref();
    slot.child.channel?.unref();
    slot.idleTimer = setTimeout(() => slot.child.disconnect(), idleMs);
    slot.idleTimer.unref();
  }

  function pump(): void {
    while (queue.length > 0 && !closed) {
      let slot = [...slots].find((s) => !s.job && s.killReason === undefined && s.child.connected);
      if (!slot) {
        if (slots.size >= concurrency) return;
        if (!existsSync(entry)) {
          const error = new DecodeError("ECRASH", `decoder entry ${entry} is missing: build the server first`);
          for (const job of queue.splice(0)) job.reject(error);
          return;
        }
        slot = spawn();
      }
      const job = queue.shift();
      if (job) start(slot, job);
    }
  }

  return {
    decode(request: DecodeRequest, signal?: AbortSignal): Promise<DecodedImage> {
      if (closed) return Promise.reject(new DecodeError("ECRASH", "the decoder pool is closed"));
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<DecodedImage>((resolve, reject) => {
        const job: Job = { id: nextId++, request, resolve, reject, signal };
        if (signal) {
          // Waiting: leave the queue. Running: the process is killed (native code cannot be interrupted).
          job.onAbort = () => {
            const waiting = queue.indexOf(job);
            if (waiting >= 0) {
              queue.splice(waiting, 1);
              reject(signal.reason);
              return;
            }
            const slot = [...slots].find((s) => s.job === job);
            if (slot) kill(slot, signal.reason);
          };
          signal.addEventListener("abort", job.onAbort, { once: true });
        }
        queue.push(job);
        pump();
      });
    },

    async close(): Promise<void> {
      closed = true;
      const error = new DecodeError("ECRASH", "the decoder pool closed");
      for (const job of queue.splice(0)) {
        if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
        job.reject(error);
      }
      const pending = [...exits.values()];
      for (const slot of slots) {
        slot.child.ref(); // idle ones are unref'd: without this a caller's event loop could end before their exit
        kill(slot, error);
      }
      await Promise.all(pending);
    },

    processes() {
      return [...slots].flatMap((s) =>
        s.child.pid === undefined ? [] : [{ pid: s.child.pid, busy: s.job !== undefined }],
      );
    },
  };
}

/** Resident memory of a process, from /proc (Linux); undefined elsewhere or once it is gone. */
async function residentBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Why a process died unasked. V8 running out of heap is the image's size: ELIMIT, not retried. */
function died(code: number | null, signal: NodeJS.Signals | null, stderr: string): DecodeError {
  const tail = stderr.trim().split("\n").slice(-3).join(" | ");
  if (/heap out of memory|Reached heap limit/i.test(stderr)) {
    return new DecodeError("ELIMIT", `the decoder ran out of its JS heap: ${tail}`);
  }
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return new DecodeError("ECRASH", `the decoder process ${how}${tail ? `: ${tail}` : ""}`);
}

/** Structured clone delivers the thumbnail as a Uint8Array; callers get a Buffer. */
function revive(image: DecodedImage): DecodedImage {
  const bytes = image.thumbnail.bytes as Uint8Array;
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { ...image, thumbnail: { ...image.thumbnail, bytes: buffer } };
}
