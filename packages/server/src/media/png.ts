import { crc32 } from "node:zlib";
import { fourCC } from "./bytes.js";
import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import { displayedSize, orientationFromExif } from "./orientation.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "PNG";
const MAX_CHUNK_LENGTH = 0x7fffffff; // the PNG spec's limit on a chunk's data length
/** A 4 GiB PNG in 1 KiB IDATs has 4M chunks; more than that is a hostile file spinning the walk. */
const MAX_CHUNKS = 1 << 22;
/** IFD0 and its Orientation entry sit at the start of an EXIF block; its thumbnail, often tens of KB, does not matter. */
const MAX_EXIF_READ = 64 * 1024;

/** Bit depths allowed per colour type (PNG spec, table 11.1). */
const BIT_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16], // greyscale
  2: [8, 16], // truecolour
  3: [1, 2, 4, 8], // indexed
  4: [8, 16], // greyscale with alpha
  6: [8, 16], // truecolour with alpha
};

/**
 * Reads IHDR (which must come first), then walks every chunk to IEND, checking
 * each declared length against the file size and each chunk's CRC: a bad CRC
 * is the one cheap sign of corrupted bytes that PNG gives (the pixel data is
 * never inflated; a broken zlib stream is the decoder's to find). The CRCs need
 * every byte, which the reader streams in large sequential reads. An APNG's
 * acTL gives the frame count, an eXIf chunk the orientation.
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
  let orientation = 1;
  let sawExif = false;
  await checkCrc(reader, 8, 13, "IHDR");
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
    await checkCrc(reader, offset, length, type);

    if (type === "PLTE") {
      sawPalette = true;
    } else if (type === "acTL" && !sawImageData && length === 8) {
      // Only an acTL before the first IDAT makes an APNG; decoders ignore a late or broken one.
      animationFrames = (await reader.read(offset + 8, 4, "acTL chunk")).readUInt32BE(0);
    } else if (type === "eXIf" && !sawExif) {
      // The PNG 1.5 spec puts eXIf before IDAT, but decoders and viewers honour it after IDAT too.
      sawExif = true;
      const exif = await reader.read(offset + 8, Math.min(length, MAX_EXIF_READ), "eXIf chunk");
      // Some writers copy the JPEG APP1 "Exif\0\0" prefix in; the chunk should hold the TIFF header itself.
      orientation = orientationFromExif(exif.toString("latin1", 0, 6) === "Exif\0\0" ? exif.subarray(6) : exif);
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
    ...displayedSize(width, height, orientation),
    rawWidth: width,
    rawHeight: height,
    orientation,
    frames: animationFrames > 0 ? animationFrames : 1,
  };
}

/** The CRC of the chunk at `offset` covers its type and data; the 4 bytes after the data hold it. */
async function checkCrc(reader: ImageReader, offset: number, length: number, type: string): Promise<void> {
  const end = offset + 8 + length;
  let crc: number;
  if (end <= reader.head.length) {
    // Most chunks of most files lie in the head already read: no generator, no I/O.
    crc = crc32(reader.head.subarray(offset + 4, end));
  } else {
    crc = 0;
    for await (const piece of reader.pieces(offset + 4, end, `chunk ${type}`)) crc = crc32(piece, crc);
  }
  const stored = (await reader.read(end, 4, `CRC of chunk ${type}`)).readUInt32BE(0);
  if (crc !== stored) {
    throw malformed(
      FORMAT,
      `chunk ${type} at offset ${offset} fails its CRC check (stored ${hex(stored)}, computed ${hex(crc)}): its bytes are damaged`,
    );
  }
}

const hex = (value: number): string => value.toString(16).padStart(8, "0");
