import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "BMP";
const BITS_PER_PIXEL: ReadonlySet<number> = new Set([1, 2, 4, 8, 16, 24, 32, 64]);
/** BI_RGB, BI_BITFIELDS and BI_ALPHABITFIELDS store rows uncompressed, so their size follows from the header. */
const UNCOMPRESSED: ReadonlySet<number> = new Set([0, 3, 6]);
/** BI_RLE8, BI_RLE4, BI_JPEG, BI_PNG: the data size is only known from biSizeImage. */
const COMPRESSED: ReadonlySet<number> = new Set([1, 2, 4, 5]);

/**
 * Reads the file header and the DIB header (BITMAPCOREHEADER, the OS/2 2.x
 * headers, BITMAPINFOHEADER and its V2..V5 extensions), then checks the file
 * holds bfOffBits plus the pixel data the header implies.
 */
export async function parseBmp(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  const dibSize = (await reader.read(14, 4, "DIB header size")).readUInt32LE(0);
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
  if (pixelOffset < headersEnd) {
    throw malformed(FORMAT, `the pixel data offset ${pixelOffset} points inside the headers (${headersEnd} bytes)`);
  }
  const dataEnd = pixelOffset + dataSize;
  if (dataEnd > size) {
    throw truncated(FORMAT, `the pixel data needs bytes ${pixelOffset}..${dataEnd} but the file ends at ${size} bytes`);
  }
  return { mimeType: "image/bmp", width, height, rawWidth: width, rawHeight: height, orientation: 1, frames: 1 };
}
