import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "BMP";
const BITS_PER_PIXEL: ReadonlySet<number> = new Set([1, 2, 4, 8, 16, 24, 32, 64]);
/** BI_RGB, BI_BITFIELDS and BI_ALPHABITFIELDS store rows uncompressed, so their size follows from the header. */
const UNCOMPRESSED: ReadonlySet<number> = new Set([0, 3, 6]);
/** BI_RLE8, BI_RLE4, BI_JPEG, BI_PNG: the data size is only known from biSizeImage. */
const COMPRESSED: ReadonlySet<number> = new Set([1, 2, 4, 5]);
const OS2_HEADER_SIZES: ReadonlySet<number> = new Set([16, 64]);
/**
 * The bit counts each compression method works with: RLE8 and RLE4 their own;
 * BI_BITFIELDS 16 or 32 (in an OS/2 2.x header, method 3 is Huffman 1D, 1-bit;
 * method 4 its RLE24). BI_JPEG and BI_PNG (4, 5) carry a whole encoded image.
 */
function compressionFits(compression: number, bitsPerPixel: number, os2: boolean): boolean {
  if (compression === 1) return bitsPerPixel === 8;
  if (compression === 2) return bitsPerPixel === 4;
  if (compression === 3) return os2 ? bitsPerPixel === 1 : bitsPerPixel === 16 || bitsPerPixel === 32;
  if (compression === 4 && os2) return bitsPerPixel === 24;
  if (compression === 6) return bitsPerPixel === 16 || bitsPerPixel === 32;
  return true;
}

/**
 * Reads the file header and the DIB header (BITMAPCOREHEADER, the OS/2 2.x
 * headers, BITMAPINFOHEADER and its V2..V5 extensions), checks that its
 * fields are possible together (compression for the bit count, a palette that
 * fits between the headers and the pixel data), then checks the file holds
 * bfOffBits plus the pixel data the header implies.
 */
export async function parseBmp(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  const dibSize = (await reader.read(14, 4, "DIB header size")).readUInt32LE(0);
  // An unknown DIB header size never gets here: sniffFormat takes "BM" for a bitmap only with a known one.
  const os2 = OS2_HEADER_SIZES.has(dibSize);
  const headersEnd = 14 + dibSize;
  if (headersEnd > size)
    throw truncated(FORMAT, `the file ends at ${size} bytes inside its ${dibSize}-byte DIB header`);
  const dib = await reader.read(14, dibSize, "DIB header");
  const pixelOffset = (await reader.read(10, 4, "file header")).readUInt32LE(0);

  let width: number;
  let height: number;
  let planes: number;
  let bitsPerPixel: number;
  let compression = 0;
  let imageSize = 0;
  let coloursUsed = 0;
  if (dibSize === 12) {
    width = dib.readUInt16LE(4);
    height = dib.readUInt16LE(6);
    planes = dib.readUInt16LE(8);
    bitsPerPixel = dib.readUInt16LE(10);
  } else {
    width = dib.readInt32LE(4);
    height = dib.readInt32LE(8);
    planes = dib.readUInt16LE(12);
    bitsPerPixel = dib.readUInt16LE(14);
    if (dibSize >= 24) {
      compression = dib.readUInt32LE(16);
      imageSize = dib.readUInt32LE(20);
    }
    if (dibSize >= 36) coloursUsed = dib.readUInt32LE(32);
  }
  // A negative height means the rows are stored top-down; the size is its magnitude.
  height = Math.abs(height);
  if (width <= 0 || height === 0) throw malformed(FORMAT, `the DIB header declares a size of ${width}x${height}`);
  if (planes !== 1) throw malformed(FORMAT, `the DIB header declares ${planes} colour planes (must be 1)`);
  if (!BITS_PER_PIXEL.has(bitsPerPixel))
    throw malformed(FORMAT, `unsupported bit depth of ${bitsPerPixel} bits per pixel`);

  let dataSize: number;
  if (UNCOMPRESSED.has(compression)) {
    // Rows are padded to a multiple of 4 bytes.
    dataSize = Math.ceil((width * bitsPerPixel) / 32) * 4 * height;
  } else if (COMPRESSED.has(compression)) {
    if (imageSize === 0)
      throw malformed(FORMAT, `compression method ${compression} without a declared image data size`);
    dataSize = imageSize;
  } else {
    throw malformed(FORMAT, `unknown compression method ${compression}`);
  }
  if (!compressionFits(compression, bitsPerPixel, os2)) {
    throw malformed(FORMAT, `compression method ${compression} cannot hold ${bitsPerPixel} bits per pixel`);
  }
  if (pixelOffset > size) {
    throw truncated(FORMAT, `the pixel data offset ${pixelOffset} lies past the end of the file (${size} bytes)`);
  }
  // A BITMAPINFOHEADER with bit fields keeps its colour masks just after it; later headers hold them inside.
  const masks = dibSize === 40 ? (compression === 3 ? 12 : compression === 6 ? 16 : 0) : 0;
  const paletteStart = headersEnd + masks;
  if (pixelOffset < paletteStart) {
    throw malformed(
      FORMAT,
      `the pixel data offset ${pixelOffset} points inside the headers (${paletteStart} bytes${masks ? " with the colour masks" : ""})`,
    );
  }
  if (bitsPerPixel <= 8) checkPalette(coloursUsed, bitsPerPixel, dibSize, paletteStart, pixelOffset);
  const dataEnd = pixelOffset + dataSize;
  if (dataEnd > size) {
    throw truncated(FORMAT, `the pixel data needs bytes ${pixelOffset}..${dataEnd} but the file ends at ${size} bytes`);
  }
  return { mimeType: "image/bmp", width, height, rawWidth: width, rawHeight: height, orientation: 1, frames: 1 };
}

/**
 * The colour table of a palette image. An explicit count (biClrUsed) must fit
 * the bit count and lie before the pixel data; with no count the table is
 * 2^bits entries, but decoders take a shorter one from bfOffBits (as old OS/2
 * writers made), so only the explicit count can be impossible. Above 8 bits a
 * table is an optional hint that decoders ignore.
 */
function checkPalette(
  coloursUsed: number,
  bitsPerPixel: number,
  dibSize: number,
  paletteStart: number,
  pixelOffset: number,
): void {
  if (coloursUsed === 0) return;
  if (coloursUsed > 2 ** bitsPerPixel) {
    throw malformed(
      FORMAT,
      `the header declares a palette of ${coloursUsed} colours, more than ${bitsPerPixel} bits per pixel can index (${2 ** bitsPerPixel})`,
    );
  }
  const paletteEnd = paletteStart + coloursUsed * (dibSize === 12 ? 3 : 4);
  if (paletteEnd > pixelOffset) {
    throw malformed(
      FORMAT,
      `the palette of ${coloursUsed} colours runs to offset ${paletteEnd}, past the start of the pixel data at ${pixelOffset}`,
    );
  }
}
