import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "GIF";
/** Far beyond any real animation; only stops a hostile file from spinning the walk. */
const MAX_BLOCKS = 1 << 22;
const SCAN_WINDOW = 64 * 1024;

/**
 * Reads the logical screen descriptor, then walks every block (extensions and
 * image descriptors with their LZW sub-blocks) to the trailer 0x3B, counting
 * image descriptors as frames. The LZW data is skipped, never decoded.
 */
export async function parseGif(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  if (size < 13) {
    throw truncated(
      FORMAT,
      `the file is ${size} bytes and ends inside the header, before the logical screen descriptor`,
    );
  }
  const screen = await reader.read(6, 7, "logical screen descriptor");
  let width = screen.readUInt16LE(0);
  let height = screen.readUInt16LE(2);
  const packed = screen.readUInt8(4);
  let offset = 13 + colourTableSize(packed);

  let frames = 0;
  for (let blocks = 0; ; blocks++) {
    if (blocks >= MAX_BLOCKS) throw malformed(FORMAT, `more than ${MAX_BLOCKS} blocks`);
    if (offset >= size) {
      throw truncated(FORMAT, `no trailer (0x3B): the file ends at ${size} bytes after ${frames} complete frame(s)`);
    }
    const introducer = (await reader.read(offset, 1))[0];
    if (introducer === 0x3b) break;
    if (introducer === 0x21) {
      // Extension: a label byte, then data sub-blocks.
      offset = await skipSubBlocks(reader, offset + 2, `the extension block at offset ${offset}`);
    } else if (introducer === 0x2c) {
      if (offset + 10 > size)
        throw truncated(FORMAT, `the file ends at ${size} bytes inside the descriptor of frame ${frames + 1}`);
      const descriptor = await reader.read(offset + 1, 9, "image descriptor");
      const frameWidth = descriptor.readUInt16LE(4);
      const frameHeight = descriptor.readUInt16LE(6);
      // Some encoders write a 0x0 logical screen; viewers then size the canvas by the first frame.
      if (frames === 0 && (width === 0 || height === 0)) {
        width = frameWidth;
        height = frameHeight;
      }
      // Past the descriptor and any local colour table sits the LZW minimum code size byte, then the data.
      offset = await skipSubBlocks(
        reader,
        offset + 10 + colourTableSize(descriptor.readUInt8(8)) + 1,
        `the image data of frame ${frames + 1}`,
      );
      frames++;
    } else {
      throw malformed(
        FORMAT,
        `unexpected byte 0x${(introducer ?? 0).toString(16).padStart(2, "0")} at offset ${offset} where a block should start`,
      );
    }
  }

  if (frames === 0) throw malformed(FORMAT, "the trailer is reached without any image");
  if (width === 0 || height === 0) throw malformed(FORMAT, `the logical screen is ${width}x${height}`);
  return { mimeType: "image/gif", width, height, rawWidth: width, rawHeight: height, orientation: 1, frames };
}

function colourTableSize(packed: number): number {
  return packed & 0x80 ? 3 * 2 ** ((packed & 0x07) + 1) : 0;
}

/**
 * Offset just past the zero-length terminator of the sub-blocks starting at
 * `offset`. Scans whole windows synchronously: a GIF is mostly 256-byte
 * sub-blocks, and one read per sub-block would be slow on large files.
 */
async function skipSubBlocks(reader: ImageReader, offset: number, what: string): Promise<number> {
  let at = offset;
  for (;;) {
    const window = await reader.readUpTo(at, SCAN_WINDOW);
    if (window.length === 0) {
      throw truncated(FORMAT, `no trailer (0x3B): the file ends at ${reader.size} bytes inside ${what}`);
    }
    let i = 0;
    while (i < window.length) {
      const blockSize = window[i] ?? 0;
      if (blockSize === 0) return at + i + 1;
      i += 1 + blockSize;
    }
    at += i;
  }
}
