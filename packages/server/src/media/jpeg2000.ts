import { readChildBoxes, readTopLevelBoxes } from "./boxes.js";
import { hexPreview } from "./bytes.js";
import { malformed, notAnImage, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const SOC = 0xff4f; // start of codestream
const SIZ = 0xff51; // image and tile size
const SOT = 0xff90; // start of tile-part
const EOC = 0xffd9; // end of codestream
/** A 16384^2 image in the smallest sensible tiles, times a few tile-parts each. */
const MAX_TILE_PARTS = 1 << 22;
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
  const boxes = await readTopLevelBoxes(reader, 0, format);
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
 * file, zero padding after it is tolerated). No coded data is read.
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

  // Tile-parts, hopped over by their Psot lengths.
  for (let parts = 0; ; parts++) {
    if (parts >= MAX_TILE_PARTS) throw malformed(format, `more than ${MAX_TILE_PARTS} tile-parts`);
    const code = await marker(at);
    if (code === EOC) {
      at += 2;
      break;
    }
    if (code !== SOT)
      throw malformed(
        format,
        `expected a tile-part (SOT) or the end of the codestream at offset ${at}, found ${hexPreview(await reader.readUpTo(at, 2))}`,
      );
    if ((await segmentLength(at)) !== 10)
      throw malformed(format, `the SOT marker segment at offset ${at} is not 10 bytes`);
    const psot = (await reader.read(at + 6, 4, "SOT marker segment")).readUInt32BE(0);
    if (psot === 0) {
      // Psot 0: this last tile-part runs up to the EOC marker that ends the codestream.
      at = paddingAllowed ? await reader.endBeforeZeroPadding(at, end) : end;
      if (at - 2 < start || (await marker(at - 2)) !== EOC) {
        throw truncated(
          format,
          `the codestream is cut off: it ends at ${end} bytes without the end-of-codestream marker FFD9`,
        );
      }
      break;
    }
    if (psot < 12) throw malformed(format, `the tile-part at offset ${at} declares a length of ${psot}`);
    if (at + psot > end) {
      throw truncated(
        format,
        `the tile-part at offset ${at} declares ${psot} bytes but the codestream ends at ${end} bytes`,
      );
    }
    at += psot;
  }

  const dataEnd = paddingAllowed ? await reader.endBeforeZeroPadding(at, end) : end;
  if (at < dataEnd)
    throw malformed(format, `${dataEnd - at} bytes of data follow the end-of-codestream marker at offset ${at - 2}`);
  return size;
}
