import { parseBmp } from "./bmp.js";
import { MediaError, tooManyPixels } from "./errors.js";
import { parseGif } from "./gif.js";
import type { ImageInfo } from "./image-info.js";
import { parseIsobmff } from "./isobmff.js";
import { parseJpeg } from "./jpeg.js";
import { parseJ2k, parseJp2 } from "./jpeg2000.js";
import { parsePng } from "./png.js";
import { ImageReader } from "./reader.js";
import { type FormatFamily, sniffFormat } from "./sniff.js";
import { parseTiff } from "./tiff.js";
import { parseWebp } from "./webp.js";

export interface ProbeOptions {
  /**
   * Largest accepted width x height of the stored grid (the decoder's cost).
   * Default: Pillow's decompression-bomb error threshold, twice its warning
   * limit of 89,478,485 pixels (about 16384 x 16384).
   */
  maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 268_402_689;

/** Filename extensions of the supported formats, for upload pickers and listings; the probe itself ignores names. */
export const SUPPORTED_EXTENSIONS: readonly string[] = Object.freeze([
  ".jpg",
  ".jpeg",
  ".jfif",
  ".png",
  ".tif",
  ".tiff",
  ".bmp",
  ".webp",
  ".heif",
  ".heic",
  ".avif",
  ".jp2",
  ".j2k",
  ".gif",
]);

const PARSERS: Record<FormatFamily, (reader: ImageReader) => Promise<ImageInfo>> = {
  jpeg: parseJpeg,
  png: parsePng,
  gif: parseGif,
  webp: parseWebp,
  tiff: parseTiff,
  bmp: parseBmp,
  isobmff: parseIsobmff,
  jp2: parseJp2,
  j2k: parseJ2k,
};

/** Marks messages of parser faults that the format parsers should have turned into a precise MediaError. */
export const INTERNAL_FAULT_NOTE = "unexpected header layout";

/**
 * Identifies an image file from its bytes, reads its size and frame count from
 * its headers, and checks from the format's structure that it is complete, all
 * with a few positioned reads: pixel data is never decoded, and large files are
 * never read whole. Throws MediaError (EBADMIME, ECORRUPT, EBADSIZE) for
 * anything wrong with the bytes; I/O failures (missing file, permissions)
 * propagate as the fs errors they are.
 */
export async function probeImageFile(path: string, options: ProbeOptions = {}): Promise<ImageInfo> {
  return probe(await ImageReader.open(path), options);
}

/** The same probe over a whole file already in memory (small uploads): no file I/O at all. */
export async function probeImageBytes(bytes: Buffer, options: ProbeOptions = {}): Promise<ImageInfo> {
  return probe(ImageReader.fromBytes(bytes), options);
}

async function probe(reader: ImageReader, options: ProbeOptions): Promise<ImageInfo> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    if (!(maxPixels > 0)) throw new RangeError(`maxPixels must be a positive number, got ${maxPixels}`);
    const format = sniffFormat(reader.head, reader.size);
    let info: ImageInfo;
    try {
      info = await PARSERS[format](reader);
    } catch (error) {
      throw asMediaError(error, reader.format);
    }
    if (info.rawWidth * info.rawHeight > maxPixels) throw tooManyPixels(info.rawWidth, info.rawHeight, maxPixels);
    return info;
  } finally {
    await reader.close();
  }
}

/**
 * The parsers bounds-check every field they read, but a RangeError from a
 * Buffer read they missed must still reach the caller as "this file is
 * broken", never as a crash. System errors (the file vanished) stay as they are.
 */
function asMediaError(error: unknown, format: string): unknown {
  if (error instanceof MediaError) return error;
  if (error instanceof Error && "syscall" in error) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new MediaError("ECORRUPT", `${format} is malformed: ${INTERNAL_FAULT_NOTE} (${detail})`);
}
