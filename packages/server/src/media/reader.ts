import { open, type FileHandle } from "node:fs/promises";
import { truncated } from "./errors.js";

/** How much of the file the probe reads up front: enough for every format's headers in practice. */
export const HEAD_SIZE = 64 * 1024;
/**
 * Reads past the head go through one cached window of this size, so walking many
 * small chunks (PNG IDATs, GIF sub-blocks) costs one syscall per window, not per chunk.
 */
const WINDOW_SIZE = 64 * 1024;
/** No parser needs a single read larger than this; a bigger request means a hostile length slipped through. */
const MAX_SINGLE_READ = 16 * 1024 * 1024;
/**
 * Checks that need every byte (PNG chunk CRCs, the JPEG scan for its end
 * marker) read the file in blocks of this size: one syscall per MiB instead
 * of one per 64 KiB window or per chunk.
 */
const BLOCK_SIZE = 1024 * 1024;

/**
 * Positioned, bounds-checked reads of one file. Every read is checked against
 * the file size first, so a declared offset or length past the end becomes a
 * MediaError (ECORRUPT) naming the format, never a short buffer or a RangeError.
 */
export class ImageReader {
  /** The format being parsed, for the messages of reads past the end of file. */
  format = "file";
  private window: { offset: number; bytes: Buffer } | undefined;
  /** The last block read by pieces(); plain reads are served from it too, so a walk that streams does not re-read. */
  private block: { offset: number; bytes: Buffer } | undefined;

  private constructor(
    /** Absent when the whole file is in `head` (a small upload probed from memory). */
    private readonly file: FileHandle | undefined,
    readonly size: number,
    /** The first min(size, HEAD_SIZE) bytes. */
    readonly head: Buffer,
  ) {}

  static async open(path: string): Promise<ImageReader> {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      const head = Buffer.alloc(Math.min(size, HEAD_SIZE));
      await readFully(file, head, 0);
      return new ImageReader(file, size, head);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** A reader over bytes already in memory: every read is served from them. */
  static fromBytes(bytes: Buffer): ImageReader {
    return new ImageReader(undefined, bytes.length, bytes);
  }

  async close(): Promise<void> {
    await this.file?.close();
  }

  /** Whether [offset, offset+length) lies inside the file (false for negative, fractional or NaN input). */
  has(offset: number, length: number): boolean {
    return (
      Number.isSafeInteger(offset) &&
      Number.isSafeInteger(length) &&
      offset >= 0 &&
      length >= 0 &&
      offset + length <= this.size
    );
  }

  /**
   * Exactly `length` bytes at `offset`. The returned buffer may be a view of a
   * shared cache: parse it before the next read, never keep it.
   */
  async read(offset: number, length: number, what = "data"): Promise<Buffer> {
    if (!this.has(offset, length)) {
      throw truncated(
        this.format,
        `${what} at bytes ${offset}..${offset + length} lies past the end of the file (${this.size} bytes)`,
      );
    }
    if (offset + length <= this.head.length) return this.head.subarray(offset, offset + length);
    const cached = within(this.window, offset, length) ?? within(this.block, offset, length);
    if (cached) return cached;
    // Reads past the head are bounds-checked above; a reader over memory holds the whole file in it.
    const file = this.file!;
    if (length > MAX_SINGLE_READ) {
      throw new RangeError(`read of ${length} bytes exceeds the probe's single-read limit`);
    }
    if (length <= WINDOW_SIZE) {
      const bytes = Buffer.alloc(Math.min(WINDOW_SIZE, this.size - offset));
      await readFully(file, bytes, offset);
      this.window = { offset, bytes };
      return bytes.subarray(0, length);
    }
    const bytes = Buffer.alloc(length);
    await readFully(file, bytes, offset);
    return bytes;
  }

  /**
   * The bytes [start, end) in order, as pieces of at most BLOCK_SIZE bytes read
   * with large sequential reads (views of the head when the range lies in it).
   * Each piece may be a view of a shared buffer: use it before asking for the next.
   */
  async *pieces(start: number, end: number, what = "data"): AsyncGenerator<Buffer> {
    if (!this.has(start, end - start)) {
      throw truncated(
        this.format,
        `${what} at bytes ${start}..${end} lies past the end of the file (${this.size} bytes)`,
      );
    }
    let at = start;
    while (at < end) {
      if (at < this.head.length) {
        const stop = Math.min(end, this.head.length);
        yield this.head.subarray(at, stop);
        at = stop;
        continue;
      }
      let block = this.block;
      if (!block || at < block.offset || at >= block.offset + block.bytes.length) {
        // Past the head a reader over memory has nothing more: has() above kept `at` inside the file.
        const bytes = Buffer.allocUnsafe(Math.min(BLOCK_SIZE, this.size - at));
        await readFully(this.file!, bytes, at);
        block = this.block = { offset: at, bytes };
      }
      const stop = Math.min(end, block.offset + block.bytes.length);
      yield block.bytes.subarray(at - block.offset, stop - block.offset);
      at = stop;
    }
  }

  /** Up to `length` bytes at `offset`, fewer when the file ends first (empty past the end). */
  async readUpTo(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.size) return Buffer.alloc(0);
    return this.read(offset, Math.min(length, this.size - offset));
  }

  /**
   * Offset just past the last byte of [start, end) that is not zero. Encoders and
   * transfer tools sometimes pad a file with zeros after its end marker; callers
   * look for the end marker before the padding. Looks back at most `maxPadding` bytes.
   */
  async endBeforeZeroPadding(start: number, end: number, maxPadding = WINDOW_SIZE): Promise<number> {
    const from = Math.max(start, end - maxPadding);
    const tail = await this.read(from, end - from, "end of file");
    let last = tail.length;
    while (last > 0 && tail[last - 1] === 0) last--;
    return from + last;
  }
}

/** The bytes [offset, offset+length) from a cached read, if it holds them all. */
function within(
  cached: { offset: number; bytes: Buffer } | undefined,
  offset: number,
  length: number,
): Buffer | undefined {
  if (!cached || offset < cached.offset || offset + length > cached.offset + cached.bytes.length) return undefined;
  return cached.bytes.subarray(offset - cached.offset, offset - cached.offset + length);
}

/** fs reads may return fewer bytes than asked even for regular files; loop until full or EOF. */
async function readFully(file: FileHandle, into: Buffer, position: number): Promise<void> {
  let filled = 0;
  while (filled < into.length) {
    const { bytesRead } = await file.read(into, filled, into.length - filled, position + filled);
    if (bytesRead === 0) {
      // The file shrank between stat and read: treat it like any truncated file.
      throw truncated("file", `it ended at ${position + filled} bytes while being read`);
    }
    filled += bytesRead;
  }
}
