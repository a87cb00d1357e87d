import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import { displayedSize, isValidOrientation, ORIENTATION_TAG } from "./orientation.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "TIFF";
/** Pages are counted by walking the IFD chain; a chain longer than this is a hostile file. */
const MAX_PAGES = 65_536;
/** Strip and tile offsets checked across all pages: a 16384^2 image in 16x16 tiles has 1M. */
const MAX_DATA_BLOCKS = 1 << 24;
/** A classic IFD holds at most 65535 entries; hold BigTIFF (64-bit counts) to the same. */
const MAX_ENTRIES = 65_535;
const VALUES_PER_READ = 8192;

const TAG = {
  imageWidth: 256,
  imageLength: 257,
  stripOffsets: 273,
  stripByteCounts: 279,
  tileOffsets: 324,
  tileByteCounts: 325,
  jpegInterchangeFormat: 513,
  jpegInterchangeFormatLength: 514,
} as const;

/** Bytes per value of each field type (TIFF 6.0 section 2, BigTIFF adds 16..18). Unknown types are skipped, as the spec asks. */
const TYPE_SIZES: Readonly<Record<number, number>> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};
const SHORT = 3;
const LONG = 4;
const LONG8 = 16;
const IFD = 13;
const IFD8 = 18;

/** Classic TIFF and BigTIFF differ only in the widths of counts, offsets and entries. */
interface Layout {
  little: boolean;
  big: boolean;
  /** Width of the entry-count field, of each entry, and of offsets (also the inline value room). */
  countSize: number;
  entrySize: number;
  offsetSize: number;
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Where the value bytes are: inside the entry when they fit, else where the entry points. */
  valueAt: number;
  byteSize: number;
}

/**
 * Walks the IFD chain (one IFD per page) with a loop guard. Every IFD, every
 * out-of-line tag value and every strip or tile (offset + byte count) must lie
 * within the file. Size and Orientation come from the first IFD.
 */
export async function parseTiff(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  if (size < 8) throw truncated(FORMAT, `the file is ${size} bytes, too short for the header`);
  const head = await reader.read(0, 8, "header");
  const little = head[0] === 0x49;
  const big = (little ? head.readUInt16LE(2) : head.readUInt16BE(2)) === 43;
  const layout: Layout = big
    ? { little, big, countSize: 8, entrySize: 20, offsetSize: 8 }
    : { little, big, countSize: 2, entrySize: 12, offsetSize: 4 };
  let next: number;
  if (big) {
    if (size < 16) throw truncated(FORMAT, `the file is ${size} bytes, too short for the BigTIFF header`);
    const bigHead = await reader.read(0, 16, "BigTIFF header");
    if (uint(layout, bigHead, 4, 2) !== 8 || uint(layout, bigHead, 6, 2) !== 0) {
      throw malformed(FORMAT, "the BigTIFF header declares an offset size other than 8");
    }
    next = uint(layout, bigHead, 8, 8);
  } else {
    next = uint(layout, head, 4, 4);
  }
  if (next === 0) throw malformed(FORMAT, "the header points at no image directory (IFD offset 0)");

  const budget = { blocks: MAX_DATA_BLOCKS };
  const visited = new Set<number>();
  let first: { width: number; height: number; orientation: number } | undefined;
  let pages = 0;
  while (next !== 0) {
    const page = pages + 1;
    if (pages >= MAX_PAGES) throw malformed(FORMAT, `more than ${MAX_PAGES} pages (image directories)`);
    if (visited.has(next))
      throw malformed(FORMAT, `the directory chain loops back to offset ${next} after page ${pages}`);
    visited.add(next);
    const ifd = await readIfd(reader, layout, next, page);

    for (const entry of ifd.entries) {
      if (!reader.has(entry.valueAt, entry.byteSize)) {
        throw truncated(
          FORMAT,
          `tag ${entry.tag} of page ${page} points at bytes ${entry.valueAt}..${entry.valueAt + entry.byteSize}, ` +
            `past the end of the file (${size} bytes)`,
        );
      }
    }
    const byTag = new Map(ifd.entries.map((entry) => [entry.tag, entry]));
    const hasData = await checkImageData(reader, layout, byTag, page, budget);

    if (!first) {
      const widthEntry = byTag.get(TAG.imageWidth);
      const heightEntry = byTag.get(TAG.imageLength);
      if (!widthEntry || !heightEntry) throw malformed(FORMAT, "the first page has no ImageWidth or ImageLength tag");
      const width = (await readUnsigned(reader, layout, widthEntry, 0, 1))[0] ?? 0;
      const height = (await readUnsigned(reader, layout, heightEntry, 0, 1))[0] ?? 0;
      if (width === 0 || height === 0) throw malformed(FORMAT, `the first page declares a size of ${width}x${height}`);
      if (!hasData) throw malformed(FORMAT, "the first page has no image data (no StripOffsets or TileOffsets)");
      const orientationEntry = byTag.get(ORIENTATION_TAG);
      let orientation = 1;
      if (
        orientationEntry &&
        (orientationEntry.type === SHORT || orientationEntry.type === LONG) &&
        orientationEntry.count >= 1
      ) {
        const value = (await readUnsigned(reader, layout, orientationEntry, 0, 1))[0] ?? 1;
        // An out-of-range orientation is ignored, as viewers do, rather than refusing the image.
        orientation = isValidOrientation(value) ? value : 1;
      }
      first = { width, height, orientation };
    }
    pages++;
    next = ifd.next;
  }

  if (!first) throw malformed(FORMAT, "no image directory");
  const { width: rawWidth, height: rawHeight, orientation } = first;
  return {
    mimeType: "image/tiff",
    ...displayedSize(rawWidth, rawHeight, orientation),
    rawWidth,
    rawHeight,
    orientation,
    frames: pages,
  };
}

async function readIfd(
  reader: ImageReader,
  layout: Layout,
  offset: number,
  page: number,
): Promise<{ entries: Entry[]; next: number }> {
  const headerSize = layout.big ? 16 : 8;
  if (offset < headerSize)
    throw malformed(FORMAT, `the directory of page ${page} is at offset ${offset}, inside the header`);
  if (!reader.has(offset, layout.countSize)) {
    throw truncated(
      FORMAT,
      `the directory of page ${page} is at offset ${offset}, past the end of the file (${reader.size} bytes)`,
    );
  }
  const count = uint(layout, await reader.read(offset, layout.countSize), 0, layout.countSize);
  if (count > MAX_ENTRIES) throw malformed(FORMAT, `the directory of page ${page} declares ${count} entries`);
  const tableStart = offset + layout.countSize;
  const tableSize = count * layout.entrySize + layout.offsetSize;
  if (!reader.has(tableStart, tableSize)) {
    throw truncated(
      FORMAT,
      `the directory of page ${page} (${count} entries at offset ${offset}) runs past the end of the file (${reader.size} bytes)`,
    );
  }
  const table = Buffer.from(await reader.read(tableStart, tableSize, "image directory"));
  const inline = layout.offsetSize; // value room inside an entry: 4 bytes, or 8 in BigTIFF
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * layout.entrySize;
    const tag = uint(layout, table, at, 2);
    const type = uint(layout, table, at + 2, 2);
    const typeSize = TYPE_SIZES[type];
    if (typeSize === undefined) continue;
    const valueCount = uint(layout, table, at + 4, layout.big ? 8 : 4);
    const valueField = at + (layout.big ? 12 : 8);
    const byteSize = valueCount * typeSize;
    const valueAt = byteSize <= inline ? tableStart + valueField : uint(layout, table, valueField, layout.offsetSize);
    entries.push({ tag, type, count: valueCount, valueAt, byteSize });
  }
  return { entries, next: uint(layout, table, count * layout.entrySize, layout.offsetSize) };
}

/**
 * Checks that every strip or tile of a page lies within the file. Returns
 * whether the page has image data at all (strips, tiles, or an old-style JPEG
 * stream, which camera raw files built on TIFF use).
 */
async function checkImageData(
  reader: ImageReader,
  layout: Layout,
  byTag: ReadonlyMap<number, Entry>,
  page: number,
  budget: { blocks: number },
): Promise<boolean> {
  const tiled = byTag.has(TAG.tileOffsets);
  const offsets = byTag.get(tiled ? TAG.tileOffsets : TAG.stripOffsets);
  const byteCounts = byTag.get(tiled ? TAG.tileByteCounts : TAG.stripByteCounts);
  const unit = tiled ? "tile" : "strip";

  const jpegOffset = byTag.get(TAG.jpegInterchangeFormat);
  const jpegLength = byTag.get(TAG.jpegInterchangeFormatLength);
  if (jpegOffset && jpegLength) {
    const start = (await readUnsigned(reader, layout, jpegOffset, 0, 1))[0] ?? 0;
    const length = (await readUnsigned(reader, layout, jpegLength, 0, 1))[0] ?? 0;
    if (!reader.has(start, length)) {
      throw truncated(
        FORMAT,
        `the JPEG stream of page ${page} (bytes ${start}..${start + length}) lies past the end of the file (${reader.size} bytes)`,
      );
    }
  }
  if (!offsets) return jpegOffset !== undefined && jpegLength !== undefined;
  if (!byteCounts) {
    // libtiff estimates missing byte counts; all that can be checked is that each block starts inside the file.
    await forEachValue(reader, layout, offsets, budget, (offset, i) => {
      if (offset >= reader.size) {
        throw truncated(
          FORMAT,
          `${unit} ${i + 1} of page ${page} starts at ${offset}, past the end of the file (${reader.size} bytes)`,
        );
      }
    });
    return true;
  }
  if (byteCounts.count !== offsets.count) {
    throw malformed(FORMAT, `page ${page} has ${offsets.count} ${unit} offsets but ${byteCounts.count} byte counts`);
  }
  // Walk both arrays in step, one slice at a time, so a huge strip table never sits in memory whole.
  for (let from = 0; from < offsets.count; from += VALUES_PER_READ) {
    const n = Math.min(VALUES_PER_READ, offsets.count - from);
    budget.blocks -= n;
    if (budget.blocks < 0) throw malformed(FORMAT, `more than ${MAX_DATA_BLOCKS} strips or tiles`);
    const starts = await readUnsigned(reader, layout, offsets, from, n);
    const lengths = await readUnsigned(reader, layout, byteCounts, from, n);
    for (let i = 0; i < n; i++) {
      const start = starts[i] ?? 0;
      const length = lengths[i] ?? 0;
      // Zero-length blocks are how sparse (GDAL) files mark empty tiles; they have no bytes to check.
      if (length !== 0 && !reader.has(start, length)) {
        throw truncated(
          FORMAT,
          `${unit} ${from + i + 1} of page ${page} (bytes ${start}..${start + length}) lies past the end of the file (${reader.size} bytes)`,
        );
      }
    }
  }
  return true;
}

async function forEachValue(
  reader: ImageReader,
  layout: Layout,
  entry: Entry,
  budget: { blocks: number },
  visit: (value: number, index: number) => void,
): Promise<void> {
  for (let from = 0; from < entry.count; from += VALUES_PER_READ) {
    const n = Math.min(VALUES_PER_READ, entry.count - from);
    budget.blocks -= n;
    if (budget.blocks < 0) throw malformed(FORMAT, `more than ${MAX_DATA_BLOCKS} strips or tiles`);
    const values = await readUnsigned(reader, layout, entry, from, n);
    values.forEach((value, i) => visit(value, from + i));
  }
}

/** Values [from, from+n) of an unsigned integer field (SHORT, LONG, LONG8 or IFD offsets). */
async function readUnsigned(
  reader: ImageReader,
  layout: Layout,
  entry: Entry,
  from: number,
  n: number,
): Promise<number[]> {
  const width =
    entry.type === SHORT
      ? 2
      : entry.type === LONG || entry.type === IFD
        ? 4
        : entry.type === LONG8 || entry.type === IFD8
          ? 8
          : 0;
  if (width === 0)
    throw malformed(FORMAT, `tag ${entry.tag} has field type ${entry.type} where an unsigned integer is required`);
  if (from + n > entry.count) throw malformed(FORMAT, `tag ${entry.tag} has ${entry.count} values, fewer than needed`);
  const bytes = await reader.read(entry.valueAt + from * width, n * width, `values of tag ${entry.tag}`);
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(uint(layout, bytes, i * width, width));
  return values;
}

function uint(layout: Layout, bytes: Buffer, at: number, width: number): number {
  switch (width) {
    case 2:
      return layout.little ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at);
    case 4:
      return layout.little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at);
    case 8:
      return layout.little
        ? bytes.readUInt32LE(at + 4) * 2 ** 32 + bytes.readUInt32LE(at)
        : bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4);
    default:
      throw new RangeError(`unsupported field width ${width}`);
  }
}
