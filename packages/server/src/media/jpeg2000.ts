import { readChildBoxes, readTopLevelBoxes } from "./boxes.js";
import { hexPreview } from "./bytes.js";
import { malformed, notAnImage, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const SOC = 0xff4f; // start of codestream
const SIZ = 0xff51; // image and tile size
const SOT = 0xff90; // start of tile-part
const EOC = 0xffd9; // end of codestream
const SOD = 0xff93; // start of data: ends a tile-part header
/** Isot is 16 bits and 65535 is reserved: a codestream can address no more tiles than this. */
const MAX_TILES = 65535;
/**
 * The walk verifies this many tile-parts (a few small reads each, most served
 * by the reader's cached window: a 16384^2 image in 64^2 tiles is 65,536);
 * past that, only the end-of-codestream marker at the end is checked.
 */
const MAX_WALKED_TILE_PARTS = 1 << 16;
/** Marker segments in one tile-part header (COD, QCD, POC, PLT, COM...) checked before its SOD; more are not read. */
const MAX_TILE_PART_HEADER_SEGMENTS = 64;
const MAX_MAIN_HEADER_SEGMENTS = 4096;
const MAX_JP2_HEADER_SIZE = 16 * 1024 * 1024;

/**
 * JP2: the signature box, 'ftyp' with the 'jp2 ' brand, the 'jp2h' header
 * (whose 'ihdr' gives the size) and the 'jp2c' codestream, which must be
 * complete: see walkCodestream.
 */
export async function parseJp2(reader: ImageReader): Promise<ImageInfo> {
  const format = "JPEG 2000 (JP2)";
  reader.format = format;
  // Writers that set the codestream box's length before knowing it leave it running past the end; decoders read the
  // codestream inside regardless, so such a 'jp2c' is kept and its codestream judged as it is (see walkCodestream).
  const boxes = await readTopLevelBoxes(reader, 0, format, new Set(["jp2c"]));
  const ftyp = boxes[1];
  if (!ftyp || ftyp.type !== "ftyp") throw malformed(format, "the signature box is not followed by an 'ftyp' box");
  if (ftyp.end - ftyp.payload < 8 || ftyp.end - ftyp.payload > 4096)
    throw malformed(format, "the 'ftyp' box has an invalid size");
  const ftypBytes = await reader.read(ftyp.payload, ftyp.end - ftyp.payload, "'ftyp' box");
  const brands = new Set([ftypBytes.toString("latin1", 0, 4)]);
  for (let at = 8; at + 4 <= ftypBytes.length; at += 4) brands.add(ftypBytes.toString("latin1", at, at + 4));
  if (!brands.has("jp2 ")) {
    throw notAnImage(
      `a JPEG 2000 family file without the 'jp2 ' brand (brands: ${[...brands].map((b) => JSON.stringify(b)).join(", ")}), which is not supported`,
    );
  }

  const header = boxes.find((box) => box.type === "jp2h");
  if (!header) throw malformed(format, "no JP2 header ('jp2h' box)");
  if (header.end - header.payload > MAX_JP2_HEADER_SIZE) throw malformed(format, "the 'jp2h' box is implausibly large");
  const headerBytes = await reader.read(header.payload, header.end - header.payload, "'jp2h' box");
  const ihdr = readChildBoxes(headerBytes, 0, headerBytes.length, format, "jp2h")[0];
  if (!ihdr || ihdr.type !== "ihdr") throw malformed(format, "the 'jp2h' box does not start with an 'ihdr' box");
  if (ihdr.end - ihdr.payload < 14) throw malformed(format, "the 'ihdr' box is too short");
  const height = headerBytes.readUInt32BE(ihdr.payload);
  const width = headerBytes.readUInt32BE(ihdr.payload + 4);
  if (width === 0 || height === 0) throw malformed(format, `the 'ihdr' box declares a size of ${width}x${height}`);

  const codestream = boxes.find((box) => box.type === "jp2c");
  if (!codestream) throw malformed(format, "no codestream ('jp2c' box)");
  if (codestream.start < header.start) throw malformed(format, "the codestream comes before the JP2 header");
  const size = await walkCodestream(reader, codestream.payload, codestream.end, format, false);
  if (size.width !== width || size.height !== height) {
    throw malformed(format, `the header says ${width}x${height} but the codestream says ${size.width}x${size.height}`);
  }
  return { mimeType: "image/jp2", width, height, rawWidth: width, rawHeight: height, orientation: 1, frames: 1 };
}

/** A raw JPEG 2000 codestream (.j2k, .j2c): the SIZ marker gives the size; it must run to EOC. */
export async function parseJ2k(reader: ImageReader): Promise<ImageInfo> {
  const format = "JPEG 2000 codestream";
  reader.format = format;
  const { width, height } = await walkCodestream(reader, 0, reader.size, format, true);
  return { mimeType: "image/x-j2c", width, height, rawWidth: width, rawHeight: height, orientation: 1, frames: 1 };
}

/**
 * Reads SIZ (image area = Xsiz - XOsiz by Ysiz - YOsiz), skips the main header
 * marker segments to the first SOT, then hops from tile-part to tile-part by
 * their declared lengths (Psot) until EOC, which must end the codestream (in a
 * file, zero padding after it is tolerated), or whose last two bytes stand
 * in for it after a complete set of tile-parts (see walkTileParts). No coded data is read.
 */
async function walkCodestream(
  reader: ImageReader,
  start: number,
  end: number,
  format: string,
  paddingAllowed: boolean,
): Promise<{ width: number; height: number }> {
  const marker = async (at: number): Promise<number> => {
    if (at + 2 > end)
      throw truncated(
        format,
        `the codestream ends at ${end} bytes where a marker should be (offset ${at}), before the end-of-codestream marker`,
      );
    return (await reader.read(at, 2, "marker")).readUInt16BE(0);
  };
  const segmentLength = async (at: number): Promise<number> => {
    if (at + 4 > end) throw truncated(format, `the codestream ends at ${end} bytes inside a marker segment header`);
    const length = (await reader.read(at + 2, 2, "marker segment length")).readUInt16BE(0);
    if (length < 2) throw malformed(format, `the marker segment at offset ${at} declares a length of ${length}`);
    if (at + 2 + length > end) {
      throw truncated(
        format,
        `the marker segment at offset ${at} declares ${length} bytes but the codestream ends at ${end} bytes`,
      );
    }
    return length;
  };

  if ((await marker(start)) !== SOC || (await marker(start + 2)) !== SIZ) {
    throw malformed(
      format,
      `the codestream does not start with SOC and SIZ markers (found ${hexPreview(await reader.readUpTo(start, 4))})`,
    );
  }
  const sizLength = await segmentLength(start + 2);
  if (sizLength < 41) throw malformed(format, `the SIZ marker segment is ${sizLength} bytes, too short`);
  const siz = await reader.read(start + 6, 36, "SIZ marker segment");
  const xsiz = siz.readUInt32BE(2);
  const ysiz = siz.readUInt32BE(6);
  const xosiz = siz.readUInt32BE(10);
  const yosiz = siz.readUInt32BE(14);
  const components = siz.readUInt16BE(34);
  if (xsiz <= xosiz || ysiz <= yosiz) {
    throw malformed(format, `SIZ declares an empty image area (${xsiz}-${xosiz} by ${ysiz}-${yosiz})`);
  }
  if (components === 0 || sizLength !== 38 + 3 * components) {
    throw malformed(format, `SIZ declares ${components} components in a ${sizLength}-byte segment`);
  }
  const size = { width: xsiz - xosiz, height: ysiz - yosiz };
  const tiles = tileCount(siz, format);
  // The main header: marker segments up to the first tile-part.
  let at = start + 4 + sizLength;
  for (let segments = 0; ; segments++) {
    if (segments >= MAX_MAIN_HEADER_SEGMENTS)
      throw malformed(format, `more than ${MAX_MAIN_HEADER_SEGMENTS} main header marker segments`);
    const code = await marker(at);
    if (code === SOT) break;
    if (code === EOC) throw malformed(format, "the codestream ends (EOC) before any tile-part");
    if (code >>> 8 !== 0xff)
      throw malformed(format, `expected a marker at offset ${at}, found ${hexPreview(await reader.readUpTo(at, 2))}`);
    at += 2 + (await segmentLength(at));
  }

  at = await walkTileParts({ reader, format, start, end, tiles, paddingAllowed, marker, segmentLength }, at);
  if (at === end) return size;

  const dataEnd = paddingAllowed ? await reader.endBeforeZeroPadding(at, end) : end;
  if (at < dataEnd)
    throw malformed(format, `${dataEnd - at} bytes of data follow the end-of-codestream marker at offset ${at - 2}`);
  return size;
}

/** The number of tiles of SIZ's tile grid (ISO/IEC 15444-1, B.3), after checking the grid covers the image. */
function tileCount(siz: Buffer, format: string): number {
  const [xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz] = [2, 6, 10, 14, 18, 22, 26, 30].map((at) =>
    siz.readUInt32BE(at),
  ) as [number, number, number, number, number, number, number, number];
  if (xtsiz === 0 || ytsiz === 0) throw malformed(format, `SIZ declares tiles of ${xtsiz}x${ytsiz}`);
  if (xtosiz > xosiz || ytosiz > yosiz || xtosiz + xtsiz <= xosiz || ytosiz + ytsiz <= yosiz) {
    throw malformed(format, `SIZ places the first tile (at ${xtosiz},${ytosiz}) where it does not cover the image`);
  }
  const tiles = Math.ceil((xsiz - xtosiz) / xtsiz) * Math.ceil((ysiz - ytosiz) / ytsiz);
  if (tiles > MAX_TILES) throw malformed(format, `SIZ declares ${tiles} tiles, more than a codestream can address`);
  return tiles;
}

interface Walk {
  reader: ImageReader;
  format: string;
  start: number;
  end: number;
  tiles: number;
  paddingAllowed: boolean;
  marker: (at: number) => Promise<number>;
  segmentLength: (at: number) => Promise<number>;
}

/**
 * Hops over the tile-parts from the first SOT by their Psot lengths and returns
 * the offset just past EOC, or `end` when the last two bytes of the codestream
 * hold something else where EOC should be, which OpenJPEG reads as the end
 * (it cannot read a codestream that stops right after a tile-part), accepted
 * when the tile-parts walked are complete: every tile has one and those that
 * declare their number (TNsot) have them all. Each tile-part's tile index
 * (Isot) must exist in SIZ's grid, its parts come in order (TPsot, as
 * OpenJPEG requires), and its header must end (SOD) inside its own length:
 * otherwise tile-parts overlap. A few small reads per tile-part, for at most
 * MAX_WALKED_TILE_PARTS of them.
 */
async function walkTileParts(walk: Walk, first: number): Promise<number> {
  const { reader, format, end, tiles, marker, segmentLength } = walk;
  const partsSeen = new Map<number, number>();
  const partsDeclared = new Map<number, number>();
  let at = first;
  for (let parts = 0; ; parts++) {
    if (parts >= MAX_WALKED_TILE_PARTS) return endMarker(walk, end);
    if (at + 2 > end) {
      // OpenJPEG reads two more bytes after a tile-part and fails ("Stream too short") when there are none.
      throw truncated(
        format,
        `the codestream ends at ${end} bytes after its last tile-part, without the end-of-codestream marker FFD9`,
      );
    }
    const code = await marker(at);
    if (code === EOC) return at + 2;
    if (code !== SOT && at + 2 === end) {
      // The last two bytes hold something else where EOC should be: OpenJPEG warns "Stream does not end with
      // EOC" and decodes what the tile-parts hold, so accept them if they are complete.
      checkTilesComplete(format, end, tiles, partsSeen, partsDeclared);
      return end;
    }
    if (code !== SOT)
      throw malformed(
        format,
        `expected a tile-part (SOT) or the end of the codestream at offset ${at}, found ${hexPreview(await reader.readUpTo(at, 2))}`,
      );
    if ((await segmentLength(at)) !== 10)
      throw malformed(format, `the SOT marker segment at offset ${at} is not 10 bytes`);
    const sot = await reader.read(at + 4, 8, "SOT marker segment");
    const tile = sot.readUInt16BE(0);
    const psot = sot.readUInt32BE(2);
    const part = sot.readUInt8(6);
    const declared = sot.readUInt8(7);
    if (tile >= tiles) {
      throw malformed(format, `the tile-part at offset ${at} is for tile ${tile}, but SIZ declares ${tiles} tiles`);
    }
    const seen = partsSeen.get(tile) ?? 0;
    if (part !== seen) {
      throw malformed(
        format,
        `the tile-part at offset ${at} is part ${part} of tile ${tile}, expected part ${seen}: tile-parts repeat or are out of order`,
      );
    }
    // TNsot 0 means "not said here". One writer's TNsot is one short, which OpenJPEG detects and corrects,
    // so only a part index past the declared count is impossible.
    if (declared !== 0 && part > declared) {
      throw malformed(
        format,
        `the tile-part at offset ${at} is part ${part} of tile ${tile}, which declares ${declared}`,
      );
    }
    partsSeen.set(tile, seen + 1);
    if (declared !== 0) partsDeclared.set(tile, Math.max(declared, partsDeclared.get(tile) ?? 0));
    if (psot === 0) {
      // Psot 0: this last tile-part runs up to the EOC marker that ends the codestream.
      return endMarker(walk, at);
    }
    // The SOT segment (12 bytes) and SOD (2) at the least; OpenJPEG reads an empty 12-byte tile-part too (Kakadu).
    if (psot < 14 && psot !== 12) throw malformed(format, `the tile-part at offset ${at} declares a length of ${psot}`);
    if (at + psot > end) {
      throw truncated(
        format,
        `the tile-part at offset ${at} declares ${psot} bytes but the codestream ends at ${end} bytes`,
      );
    }
    if (psot > 12) await checkTilePartHeader(walk, at, at + psot);
    at += psot;
  }
}

/** The tile-part header's marker segments, from just past SOT, must reach SOD before the tile-part's end. */
async function checkTilePartHeader(walk: Walk, tilePart: number, tilePartEnd: number): Promise<void> {
  const { format, marker, reader } = walk;
  const overlap = (): Error =>
    malformed(
      format,
      `the tile-part at offset ${tilePart} declares ${tilePartEnd - tilePart} bytes, but its header runs past them (no SOD marker before offset ${tilePartEnd}): tile-parts overlap`,
    );
  let at = tilePart + 12;
  // More header segments than this are left unchecked, to the decoder.
  for (let segments = 0; segments < MAX_TILE_PART_HEADER_SEGMENTS; segments++) {
    if (at + 2 > tilePartEnd) throw overlap();
    const code = await marker(at);
    if (code === SOD) return;
    if (code >>> 8 !== 0xff) {
      throw malformed(
        format,
        `the header of the tile-part at offset ${tilePart} holds ${hexPreview(await reader.readUpTo(at, 2))} at offset ${at} where a marker or SOD should be`,
      );
    }
    if (at + 4 > tilePartEnd) throw overlap();
    at += 2 + (await reader.read(at + 2, 2, "marker segment length")).readUInt16BE(0);
  }
}

/** The codestream whose tile-parts were not all walked must end with EOC (zero padding after it tolerated in a file). */
async function endMarker(walk: Walk, from: number): Promise<number> {
  const { reader, format, start, end, paddingAllowed, marker } = walk;
  const at = paddingAllowed ? await reader.endBeforeZeroPadding(from, end) : end;
  if (at - 2 < start || (await marker(at - 2)) !== EOC) {
    throw truncated(
      format,
      `the codestream is cut off: it ends at ${end} bytes without the end-of-codestream marker FFD9`,
    );
  }
  return at;
}

function checkTilesComplete(
  format: string,
  at: number,
  tiles: number,
  partsSeen: ReadonlyMap<number, number>,
  partsDeclared: ReadonlyMap<number, number>,
): void {
  const missing = (tile: number): string | undefined => {
    const seen = partsSeen.get(tile) ?? 0;
    const declared = partsDeclared.get(tile) ?? 0;
    if (seen === 0) return `tile ${tile} has no tile-part`;
    if (declared !== 0 && seen < declared) return `tile ${tile} has ${seen} of its ${declared} tile-parts`;
    return undefined;
  };
  for (let tile = 0; tile < tiles; tile++) {
    const gap = missing(tile);
    if (gap) {
      throw truncated(
        format,
        `the codestream is cut off: it ends at ${at} bytes without the end-of-codestream marker FFD9, and ${gap}`,
      );
    }
  }
}
