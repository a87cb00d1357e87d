import { fourCC, hexPreview } from "./bytes.js";
import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "WebP";
/** An animation of a million frames is not a real upload; this only bounds the chunk walk. */
const MAX_CHUNKS = 1 << 20;
const ANIMATION_FLAG = 0x02;

interface Bitstream {
  width: number;
  height: number;
}

/**
 * Checks the RIFF size against the file size, then walks every chunk to the
 * RIFF end. The size comes from the first chunk: VP8 (lossy key frame header),
 * VP8L (lossless header) or VP8X (extended: canvas size, and ANMF frames when
 * animated).
 */
export async function parseWebp(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  const riffEnd = (await reader.read(4, 4, "RIFF header")).readUInt32LE(0) + 8;
  if (riffEnd > size) {
    throw truncated(FORMAT, `the RIFF header declares ${riffEnd} bytes but the file ends at ${size} bytes`);
  }
  if (riffEnd < size) {
    throw malformed(
      FORMAT,
      `the RIFF header declares ${riffEnd} bytes but the file has ${size} (${size - riffEnd} bytes of trailing data)`,
    );
  }

  let offset = 12;
  let first: string | undefined;
  let canvas: Bitstream | undefined;
  let animated = false;
  let animationFrames = 0;
  let sawBitstream = false;
  for (let chunks = 0; offset < riffEnd; chunks++) {
    if (chunks >= MAX_CHUNKS) throw malformed(FORMAT, `more than ${MAX_CHUNKS} chunks`);
    if (offset + 8 > riffEnd) throw truncated(FORMAT, `the file ends at ${size} bytes inside a chunk header`);
    const header = await reader.read(offset, 8, "chunk header");
    const type = fourCC(header, 0);
    const length = header.readUInt32LE(4);
    const dataStart = offset + 8;
    // Chunk data is padded to an even length.
    // A missing pad byte after the last chunk is tolerated, as libwebp does.
    const end = Math.min(dataStart + length + (length & 1), Math.max(riffEnd, dataStart + length));
    if (end > riffEnd) {
      throw truncated(
        FORMAT,
        `chunk '${type}' at offset ${offset} declares ${length} bytes but the file ends at ${size} bytes`,
      );
    }

    if (first === undefined) {
      first = type;
      if (type === "VP8 ") canvas = await readLossyHeader(reader, dataStart, length);
      else if (type === "VP8L") canvas = await readLosslessHeader(reader, dataStart, length);
      else if (type === "VP8X") {
        if (length < 10) throw malformed(FORMAT, `the VP8X chunk is ${length} bytes, too short`);
        const data = await reader.read(dataStart, 10, "VP8X chunk");
        animated = (data.readUInt8(0) & ANIMATION_FLAG) !== 0;
        canvas = { width: data.readUIntLE(4, 3) + 1, height: data.readUIntLE(7, 3) + 1 };
      } else {
        throw malformed(FORMAT, `the first chunk is '${type}', not VP8, VP8L or VP8X`);
      }
      sawBitstream = type !== "VP8X";
    } else if (type === "ANMF") {
      animationFrames++;
    } else if (type === "VP8 " || type === "VP8L") {
      sawBitstream = true;
    }
    offset = end;
  }

  if (!canvas) throw malformed(FORMAT, "the RIFF container holds no chunks");
  let frames = 1;
  if (animated) {
    if (animationFrames === 0) throw malformed(FORMAT, "an animated WebP has no ANMF frames");
    frames = animationFrames;
  } else if (!sawBitstream) {
    throw malformed(FORMAT, "no VP8 or VP8L image data after the VP8X header");
  }
  const { width, height } = canvas;
  return { mimeType: "image/webp", width, height, rawWidth: width, rawHeight: height, orientation: 1, frames };
}

/** VP8 key frame: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height (2 bits of scaling each). */
async function readLossyHeader(reader: ImageReader, start: number, length: number): Promise<Bitstream> {
  if (length < 10) throw malformed(FORMAT, `the VP8 chunk is ${length} bytes, too short for a frame header`);
  const data = await reader.read(start, 10, "VP8 frame header");
  if ((data.readUInt8(0) & 1) !== 0) throw malformed(FORMAT, "the VP8 bitstream does not start with a key frame");
  if (data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) {
    throw malformed(FORMAT, `bad VP8 start code ${hexPreview(data.subarray(3, 6))}`);
  }
  const width = data.readUInt16LE(6) & 0x3fff;
  const height = data.readUInt16LE(8) & 0x3fff;
  if (width === 0 || height === 0) throw malformed(FORMAT, `the VP8 frame header declares ${width}x${height}`);
  return { width, height };
}

/** VP8L: signature 0x2F, then 14-bit width-1, 14-bit height-1, alpha bit, 3-bit version (0), packed LSB first. */
async function readLosslessHeader(reader: ImageReader, start: number, length: number): Promise<Bitstream> {
  if (length < 5) throw malformed(FORMAT, `the VP8L chunk is ${length} bytes, too short for its header`);
  const data = await reader.read(start, 5, "VP8L header");
  if (data[0] !== 0x2f) throw malformed(FORMAT, `bad VP8L signature 0x${(data[0] ?? 0).toString(16)}`);
  const bits = data.readUInt32LE(1);
  if (bits >>> 29 !== 0) throw malformed(FORMAT, `unknown VP8L version ${bits >>> 29}`);
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
}
