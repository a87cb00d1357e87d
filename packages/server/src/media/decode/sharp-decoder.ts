/**
 * JPEG, PNG, WebP, GIF, TIFF and AVIF through sharp (libvips), read by path. The full decode
 * pulls every pixel of the first page through the decoder (into memory, or for very large
 * pictures through `stats()`), and with failOn "error" a truncated or corrupt stream fails it.
 */
import { readFile } from "node:fs/promises";
import { inflateSync } from "node:zlib";
import sharp, { type Metadata, type SharpOptions } from "sharp";
import { type Decoder, type DecoderLimits, displayed, undecodable } from "./decoder.js";
import { isSequence, readBrands, sequenceSampleCount } from "./isobmff-frames.js";
import { encodeThumbnail, orient, thumbnailFromPixels } from "./thumbnail.js";
import { DecodeError, type DecodedImage, type DecodeRequest } from "./types.js";

export const SHARP_VERSION = `sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}`;

const FORMAT_NAMES: Record<string, string> = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/webp": "WebP",
  "image/gif": "GIF",
  "image/tiff": "TIFF",
  "image/avif": "AVIF",
  "image/heic": "HEIF",
  "image/heif": "HEIF",
};

/** libvips and libheif apply irot/imir themselves: the probe's orientation is already in the pixels. */
const ORIENTS_ITSELF = new Set(["image/avif", "image/heic", "image/heif"]);

export const sharpDecoder: Decoder = {
  async decode(request: DecodeRequest, limits: DecoderLimits): Promise<DecodedImage> {
    const format = FORMAT_NAMES[request.mimeType] ?? request.mimeType;
    const { input, samples } = await sharpInput(request);
    const options: SharpOptions = {
      limitInputPixels: limits.maxPixels,
      failOn: "error",
      autoOrient: false,
      page: 0,
      pages: 1,
    };
    try {
      const metadata = await sharp(input, options).metadata();
      const orientation = ORIENTS_ITSELF.has(request.mimeType) ? 1 : request.orientation;
      const thumbnail = await decodeFully(input, options, metadata, orientation, request);
      return describe(metadata, orientation, samples ?? metadata.pages ?? 1, thumbnail);
    } catch (error) {
      throw await explain(format, request, error);
    }
  },
};

/** Decoded first pages up to this size (8-bit sRGB with alpha) are held in memory once. */
const MAX_HELD_BYTES = 256 * 1024 * 1024;

/**
 * Decodes every pixel of the first page once and makes the thumbnail from those pixels: one
 * decode instead of two (a 640x480 JPEG: about 8 ms of CPU instead of 27). Pictures too big to
 * hold are streamed through `stats()` instead and thumbnailed from the file (shrink-on-load).
 */
async function decodeFully(
  input: string | Buffer,
  options: SharpOptions,
  metadata: Metadata,
  orientation: number,
  request: DecodeRequest,
): Promise<DecodedImage["thumbnail"]> {
  const held = (metadata.width ?? 0) * (metadata.height ?? 0) * 4;
  if (held > MAX_HELD_BYTES) {
    await sharp(input, options).stats();
    return encodeThumbnail(orient(sharp(input, options), orientation), request.thumbnail);
  }
  // sRGB 8-bit: what the thumbnail is made of anyway (CMYK through its profile, grey widened).
  const { data, info } = await sharp(input, options)
    .toColourspace("srgb")
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const channels = info.channels as 1 | 2 | 3 | 4;
  return thumbnailFromPixels(
    data,
    { width: info.width, height: info.height, channels },
    orientation,
    request.thumbnail,
  );
}

/**
 * The path, except for AVIF image sequences: libvips 8.18 does not recognise the 'avis' major
 * brand, though it reads their primary still item. Those are read into memory and named 'avif',
 * and their track's samples counted.
 */
async function sharpInput(request: DecodeRequest): Promise<{ input: string | Buffer; samples?: number }> {
  if (request.mimeType !== "image/avif" || !isSequence(await readBrands(request.path))) return { input: request.path };
  const bytes = await readFile(request.path);
  const samples = await sequenceSampleCount(bytes);
  if (bytes.toString("latin1", 8, 12) === "avis") bytes.write("avif", 8, "latin1");
  return { input: bytes, samples };
}

function describe(
  metadata: Metadata,
  orientation: number,
  frameCount: number,
  thumbnail: DecodedImage["thumbnail"],
): DecodedImage {
  const { width, height } = displayed(metadata.width, metadata.height, orientation);
  const bitDepth = metadata.bitsPerSample ?? (metadata.depth === "ushort" ? 16 : 8);
  // libvips names 16-bit models apart (rgb16, grey16); the depth is reported on its own.
  const space = metadata.space === "rgb16" ? "srgb" : metadata.space === "grey16" ? "b-w" : (metadata.space ?? "srgb");
  return {
    width,
    height,
    frames: frameCount,
    channels: metadata.channels ?? 3,
    bitDepth,
    hasAlpha: metadata.hasAlpha ?? false,
    colorSpace: metadata.isPalette ? "palette" : space,
    decoder: SHARP_VERSION,
    thumbnail,
  };
}

/** sharp's errors, made short and specific: the pixel limit is ELIMIT, the rest EDECODE. */
async function explain(format: string, request: DecodeRequest, error: unknown): Promise<DecodeError> {
  if (error instanceof DecodeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/exceeds pixel limit/i.test(message)) return new DecodeError("ELIMIT", `${format}: over the pixel limit`);
  if (request.mimeType === "image/png") {
    const zlib = await pngZlibFault(request.path).catch(() => undefined);
    if (zlib) return undecodable(format, zlib);
  }
  return undecodable(format, cleanMessage(message, request.path));
}

/**
 * libvips repeats itself: a "bad seek" line for each probe of a file, the path in front of each
 * line, then the cause last. Keeps the distinct lines that say something, loader names replaced.
 */
export function cleanMessage(message: string, path: string): string {
  const lines = message
    .split("\n")
    .map((line) => line.split(`${path}: `).join("").trim())
    .map((line) =>
      line.replace(/^(vipspng|VipsJpeg|vipsgif|VipsForeignLoad\w*|tiff2vips|webp2vips|heif|gifload):\s*/i, ""),
    )
    .filter((line) => line !== "" && !/^bad seek to \d+$/.test(line));
  const distinct = [...new Set(lines)];
  return distinct.length > 0 ? distinct.join("; ") : "the decoder failed without a reason";
}

/**
 * libpng says only "read error" when the image data does not inflate. On that failure path the
 * IDAT stream is inflated here to say so (output capped: a bomb fails the cap, not the check).
 */
async function pngZlibFault(path: string): Promise<string | undefined> {
  const png = await readFile(path);
  const parts: Buffer[] = [];
  for (let at = 8; at + 12 <= png.length;) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    if (at + 12 + length > png.length) break;
    if (type === "IDAT") parts.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: 256 * 1024 * 1024 });
    return undefined;
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    return `IDAT zlib stream is corrupt (${error instanceof Error ? error.message : String(error)})`;
  }
}
