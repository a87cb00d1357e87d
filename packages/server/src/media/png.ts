import { fourCC } from "./bytes.js";
import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "PNG";
const MAX_CHUNK_LENGTH = 0x7fffffff; // the PNG spec's limit on a chunk's data length
/** A 4 GiB PNG in 1 KiB IDATs has 4M chunks; more than that is a hostile file spinning the walk. */
const MAX_CHUNKS = 1 << 22;

/** Bit depths allowed per colour type (PNG spec, table 11.1). */
const BIT_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16], // greyscale
  2: [8, 16], // truecolour
  3: [1, 2, 4, 8], // indexed
  4: [8, 16], // greyscale with alpha
  6: [8, 16], // truecolour with alpha
};

/**
 * Reads IHDR (which must come first), then walks every chunk header to IEND,
 * checking each declared length against the file size; the chunk data itself
 * (and its CRC) is skipped, never inflated. An APNG's acTL gives the frame count.
 */
export async function parsePng(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  if (size < 33) {
    throw truncated(
      FORMAT,
      `the file is ${size} bytes, too short for the IHDR header chunk (33 bytes with the signature)`,
    );
  }
  const ihdr = await reader.read(8, 25, "IHDR chunk");
  if (fourCC(ihdr, 4) !== "IHDR") throw malformed(FORMAT, `the first chunk is '${fourCC(ihdr, 4)}', not IHDR`);
  if (ihdr.readUInt32BE(0) !== 13) throw malformed(FORMAT, `the IHDR chunk is ${ihdr.readUInt32BE(0)} bytes, not 13`);
  const width = ihdr.readUInt32BE(8);
  const height = ihdr.readUInt32BE(12);
  const bitDepth = ihdr.readUInt8(16);
  const colourType = ihdr.readUInt8(17);
  if (width === 0 || height === 0 || width > MAX_CHUNK_LENGTH || height > MAX_CHUNK_LENGTH) {
    throw malformed(FORMAT, `IHDR declares an invalid size of ${width}x${height}`);
  }
  if (!BIT_DEPTHS[colourType]?.includes(bitDepth)) {
    throw malformed(
      FORMAT,
      `IHDR declares colour type ${colourType} with bit depth ${bitDepth}, which no decoder accepts`,
    );
  }
  if (ihdr.readUInt8(18) !== 0 || ihdr.readUInt8(19) !== 0 || ihdr.readUInt8(20) > 1) {
    throw malformed(FORMAT, "IHDR declares an unknown compression, filter or interlace method");
  }

  let offset = 33;
  let previous = "IHDR";
  let sawPalette = false;
  let sawImageData = false;
  let animationFrames = 0;
  for (let chunks = 1; ; chunks++) {
    if (chunks > MAX_CHUNKS) throw malformed(FORMAT, `more than ${MAX_CHUNKS} chunks`);
    if (offset + 8 > size) {
      throw truncated(
        FORMAT,
        offset === size
          ? `no IEND chunk (file ends at ${size} bytes, after chunk ${previous})`
          : `no IEND chunk (file ends at ${size} bytes inside the header of the chunk after ${previous})`,
      );
    }
    const header = await reader.read(offset, 8, "chunk header");
    const length = header.readUInt32BE(0);
    const type = fourCC(header, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) throw malformed(FORMAT, `invalid chunk type '${type}' at offset ${offset}`);
    if (length > MAX_CHUNK_LENGTH)
      throw malformed(FORMAT, `chunk ${type} at offset ${offset} declares ${length} bytes`);
    const end = offset + 12 + length;
    if (end > size) throw truncated(FORMAT, `no IEND chunk (file ends at ${size} bytes inside chunk ${type})`);

    if (type === "PLTE") {
      sawPalette = true;
    } else if (type === "acTL" && !sawImageData && length === 8) {
      // Only an acTL before the first IDAT makes an APNG; decoders ignore a late or broken one.
      animationFrames = (await reader.read(offset + 8, 4, "acTL chunk")).readUInt32BE(0);
    } else if (type === "IDAT") {
      if (colourType === 3 && !sawPalette)
        throw malformed(FORMAT, "an indexed-colour image has no PLTE chunk before its image data");
      sawImageData = true;
    } else if (type === "IEND") {
      if (!sawImageData) throw malformed(FORMAT, "IEND reached without any IDAT image data");
      break;
    }
    previous = type;
    offset = end;
  }

  return {
    mimeType: "image/png",
    width,
    height,
    rawWidth: width,
    rawHeight: height,
    orientation: 1,
    frames: animationFrames > 0 ? animationFrames : 1,
  };
}
