import { fourCC } from "./bytes.js";
import { malformed, truncated } from "./errors.js";
import type { ImageReader } from "./reader.js";

/**
 * ISO base media file format boxes (shared by HEIF/AVIF and the JPEG 2000 JP2
 * format, which uses the same box structure): a 32-bit size and a four-character
 * type, a 64-bit "largesize" when the size is 1, and "to the end" when it is 0.
 */
export interface Box {
  type: string;
  /** Offset of the box header. */
  start: number;
  /** Offset of the payload, just past the header. */
  payload: number;
  /** Offset just past the box. */
  end: number;
  /** Set when the box's declared size ran past the end of the file and `end` was clamped to it (see readTopLevelBoxes). */
  declaredEnd?: number;
}

/** Hostile files could otherwise declare millions of empty top-level boxes. */
const MAX_TOP_LEVEL_BOXES = 1 << 16;

/**
 * Reads the top-level boxes of a file, checking each lies within it. A box of
 * a type in `mayOverrun` whose size runs past the end of the file is kept as
 * the last box, clamped to the file, for the caller to judge its contents.
 */
export async function readTopLevelBoxes(
  reader: ImageReader,
  start: number,
  format: string,
  mayOverrun: ReadonlySet<string> = new Set(),
): Promise<Box[]> {
  const size = reader.size;
  const boxes: Box[] = [];
  let offset = start;
  while (offset < size) {
    if (boxes.length >= MAX_TOP_LEVEL_BOXES)
      throw malformed(format, `more than ${MAX_TOP_LEVEL_BOXES} top-level boxes`);
    if (offset + 8 > size) {
      throw truncated(
        format,
        `the file ends at ${size} bytes inside the header of the box after '${boxes.at(-1)?.type ?? "none"}'`,
      );
    }
    const header = await reader.read(offset, 8, "box header");
    let boxSize = header.readUInt32BE(0);
    const type = fourCC(header, 4);
    let payload = offset + 8;
    if (boxSize === 1) {
      if (offset + 16 > size)
        throw truncated(format, `the file ends at ${size} bytes inside the header of box '${type}'`);
      const large = await reader.read(offset + 8, 8, "box size");
      boxSize = large.readUInt32BE(0) * 2 ** 32 + large.readUInt32BE(4);
      payload = offset + 16;
    } else if (boxSize === 0) {
      boxSize = size - offset;
    }
    if (boxSize < payload - offset)
      throw malformed(format, `box '${type}' at offset ${offset} declares an impossible size of ${boxSize}`);
    const end = offset + boxSize;
    if (end > size && mayOverrun.has(type)) {
      boxes.push({ type, start: offset, payload, end: size, declaredEnd: end });
      break;
    }
    if (end > size) {
      throw truncated(
        format,
        `box '${type}' at offset ${offset} declares ${boxSize} bytes but the file ends at ${size} bytes`,
      );
    }
    boxes.push({ type, start: offset, payload, end });
    offset = end;
  }
  return boxes;
}

/** The child boxes in bytes[start, end) of an in-memory parent box; offsets are relative to `bytes`. */
export function readChildBoxes(bytes: Buffer, start: number, end: number, format: string, parent: string): Box[] {
  const boxes: Box[] = [];
  let offset = start;
  // Every box is at least 8 bytes, so this loop runs at most (end - start) / 8 times.
  while (offset + 8 <= end) {
    let boxSize = bytes.readUInt32BE(offset);
    const type = fourCC(bytes, offset + 4);
    let payload = offset + 8;
    if (boxSize === 1) {
      if (offset + 16 > end) throw malformed(format, `box '${type}' inside '${parent}' is cut off`);
      boxSize = bytes.readUInt32BE(offset + 8) * 2 ** 32 + bytes.readUInt32BE(offset + 12);
      payload = offset + 16;
    } else if (boxSize === 0) {
      boxSize = end - offset;
    }
    if (boxSize < payload - offset || offset + boxSize > end) {
      throw malformed(format, `box '${type}' inside '${parent}' declares ${boxSize} bytes, more than its parent holds`);
    }
    boxes.push({ type, start: offset, payload, end: offset + boxSize });
    offset += boxSize;
  }
  if (offset !== end && end - offset < 8 && bytes.subarray(offset, end).some((byte) => byte !== 0)) {
    throw malformed(format, `${end - offset} stray bytes at the end of '${parent}'`);
  }
  return boxes;
}

/** Sequential reads inside one in-memory box; running past its end is a malformed box, never a RangeError. */
export class BoxCursor {
  constructor(
    private readonly bytes: Buffer,
    public pos: number,
    readonly end: number,
    private readonly format: string,
    private readonly box: string,
  ) {}

  private take(n: number): number {
    const at = this.pos;
    if (at + n > this.end) throw malformed(this.format, `the '${this.box}' box is cut off`);
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.bytes.readUInt8(this.take(1));
  }

  u16(): number {
    return this.bytes.readUInt16BE(this.take(2));
  }

  u32(): number {
    return this.bytes.readUInt32BE(this.take(4));
  }

  /** An unsigned integer of 0, 4 or 8 bytes, the field widths iloc declares. */
  uint(size: number): number {
    if (size === 0) return 0;
    if (size === 4) return this.u32();
    if (size === 8) return this.u32() * 2 ** 32 + this.u32();
    throw malformed(this.format, `the '${this.box}' box declares a field width of ${size} bytes`);
  }

  fourCC(): string {
    return fourCC(this.bytes, this.take(4));
  }
}
