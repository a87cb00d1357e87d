/**
 * A BMP decoder: BI_RGB at 1, 4, 8, 16, 24 and 32 bits, BI_BITFIELDS (and BI_ALPHABITFIELDS)
 * at 16 and 32, BI_RLE8 and BI_RLE4, bottom-up and top-down. No library among sharp's formats
 * reads BMP. Every read and write is bounds-checked; anything impossible in the header is an
 * error, found before the pixel buffer is allocated.
 */
import { checkPixels, type DecoderLimits, undecodable } from "./decoder.js";

export interface BmpImage {
  width: number;
  height: number;
  /** Bits per pixel as stored (1, 4, 8, 16, 24, 32). */
  bitsPerPixel: number;
  /** Bits of the widest sample: the index size for palettes, the widest mask for bitfields. */
  bitsPerSample: number;
  palette: boolean;
  hasAlpha: boolean;
  /** RGBA, 8 bits a sample, top row first. */
  rgba: Buffer;
}

const FORMAT = "BMP";
const fail = (reason: string) => undecodable(FORMAT, reason);

interface Mask {
  shift: number;
  bits: number;
}

function mask(value: number): Mask {
  if (value === 0) return { shift: 0, bits: 0 };
  let shift = 0;
  while (((value >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (shift + bits < 32 && ((value >>> (shift + bits)) & 1) === 1) bits++;
  if (value >>> 0 !== ((2 ** bits - 1) * 2 ** shift) >>> 0)
    throw fail(`colour mask ${value.toString(16)} is not contiguous`);
  return { shift, bits };
}

/** A mask's sample of a pixel, scaled to 8 bits (by table up to 16 bits, by shift above). */
function scaler(m: Mask): (pixel: number, fallback: number) => number {
  if (m.bits === 0) return (_pixel, fallback) => fallback;
  const ones = 2 ** m.bits - 1;
  if (m.bits > 16) return (pixel) => (Math.floor(pixel / 2 ** m.shift) % (ones + 1)) >>> (m.bits - 8);
  const table = Uint8Array.from({ length: ones + 1 }, (_, v) => Math.round((v * 255) / ones));
  return (pixel) => table[(pixel >>> m.shift) & ones] ?? 0;
}

export function decodeBmp(bytes: Buffer, limits: DecoderLimits): BmpImage {
  if (bytes.length < 26 || bytes.toString("latin1", 0, 2) !== "BM") throw fail("no BM signature");
  const dataOffset = bytes.readUInt32LE(10);
  const headerSize = bytes.readUInt32LE(14);
  const core = headerSize === 12;
  if (!core && ![40, 52, 56, 64, 108, 124].includes(headerSize)) throw fail(`unknown header size ${headerSize}`);
  if (14 + headerSize > bytes.length) throw fail("the header is truncated");
  const width = core ? bytes.readUInt16LE(18) : bytes.readInt32LE(18);
  const rawHeight = core ? bytes.readInt16LE(20) : bytes.readInt32LE(22);
  const bpp = bytes.readUInt16LE(core ? 24 : 28);
  const compression = core ? 0 : bytes.readUInt32LE(30);
  const colorsUsed = core ? 0 : bytes.readUInt32LE(46);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw fail(`impossible size ${width}x${rawHeight}`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw fail(`impossible bit count ${bpp}`);
  const valid =
    compression === 0 ||
    (compression === 1 && bpp === 8) ||
    (compression === 2 && bpp === 4) ||
    ((compression === 3 || compression === 6) && (bpp === 16 || bpp === 32));
  if (!valid) throw fail(`compression ${compression} is impossible at ${bpp} bits (or not supported)`);
  checkPixels(FORMAT, width, height, limits);

  // Colour masks: inside the header from 52 bytes on, else right after a 40-byte header.
  let masks = { r: mask(0), g: mask(0), b: mask(0), a: mask(0) };
  let tableStart = 14 + headerSize;
  if (compression === 3 || compression === 6) {
    const inHeader = headerSize >= 52;
    const at = inHeader ? 54 : 14 + headerSize;
    const withAlpha = compression === 6 || headerSize >= 56;
    if (at + (withAlpha ? 16 : 12) > bytes.length) throw fail("the colour masks are truncated");
    masks = {
      r: mask(bytes.readUInt32LE(at)),
      g: mask(bytes.readUInt32LE(at + 4)),
      b: mask(bytes.readUInt32LE(at + 8)),
      a: withAlpha ? mask(bytes.readUInt32LE(at + 12)) : mask(0),
    };
    if (!inHeader) tableStart += compression === 6 ? 16 : 12;
  } else if (bpp === 16) {
    masks = { r: mask(0x7c00), g: mask(0x03e0), b: mask(0x001f), a: mask(0) };
  } else if (bpp >= 24) {
    masks = { r: mask(0xff0000), g: mask(0xff00), b: mask(0xff), a: mask(0) };
  }

  const palette: number[][] = [];
  if (bpp <= 8) {
    const entry = core ? 3 : 4;
    const count = colorsUsed === 0 ? 2 ** bpp : colorsUsed;
    if (count > 2 ** bpp) throw fail(`a palette of ${count} colours at ${bpp} bits per pixel`);
    if (tableStart + count * entry > Math.min(dataOffset, bytes.length))
      throw fail("the palette overlaps the pixels or the end");
    for (let i = 0; i < count; i++) {
      const at = tableStart + i * entry;
      palette.push([bytes[at + 2] ?? 0, bytes[at + 1] ?? 0, bytes[at] ?? 0]);
    }
  }
  if (dataOffset >= bytes.length) throw fail("the pixel data offset lies past the end of the file");

  const rgba = Buffer.alloc(width * height * 4);
  const rowAt = (y: number) => (topDown ? y : height - 1 - y) * width * 4; // y counts stored rows
  const put = (x: number, y: number, color: number[] | undefined, index: number) => {
    if (!color) throw fail(`pixel index ${index} lies outside the ${palette.length}-colour palette`);
    const at = rowAt(y) + x * 4;
    rgba[at] = color[0] ?? 0;
    rgba[at + 1] = color[1] ?? 0;
    rgba[at + 2] = color[2] ?? 0;
    rgba[at + 3] = 255;
  };

  if (compression === 1 || compression === 2) {
    decodeRle(bytes, dataOffset, width, height, compression === 2 ? 4 : 8, (x, y, index) =>
      put(x, y, palette[index], index),
    );
    // Pixels an RLE stream skips (delta, early end of line) keep palette colour 0, as Windows shows them.
    for (let i = 3; i < rgba.length; i += 4) {
      if (rgba[i] === 0) {
        const color = palette[0] ?? [0, 0, 0];
        rgba[i - 3] = color[0] ?? 0;
        rgba[i - 2] = color[1] ?? 0;
        rgba[i - 1] = color[2] ?? 0;
        rgba[i] = 255;
      }
    }
  } else {
    const stride = Math.ceil((width * bpp) / 32) * 4;
    if (dataOffset + stride * height > bytes.length) throw fail("the pixel data is truncated");
    const plainRgb = compression === 0 && (bpp === 24 || bpp === 32);
    const [r, g, b, a] = [scaler(masks.r), scaler(masks.g), scaler(masks.b), scaler(masks.a)];
    const levels = 2 ** bpp - 1;
    for (let y = 0; y < height; y++) {
      const row = dataOffset + y * stride;
      let out = rowAt(y);
      for (let x = 0; x < width; x++, out += 4) {
        if (bpp <= 8) {
          const bit = x * bpp;
          const index = ((bytes[row + (bit >> 3)] ?? 0) >> (8 - bpp - (bit & 7))) & levels;
          put(x, y, palette[index], index);
        } else if (plainRgb) {
          // The common case, byte for byte (BGR, and X unused at 32 bits).
          const at = row + x * (bpp >> 3);
          rgba[out] = bytes[at + 2] ?? 0;
          rgba[out + 1] = bytes[at + 1] ?? 0;
          rgba[out + 2] = bytes[at] ?? 0;
          rgba[out + 3] = 255;
        } else {
          const pixel = bpp === 16 ? bytes.readUInt16LE(row + x * 2) : bytes.readUInt32LE(row + x * 4);
          rgba[out] = r(pixel, 0);
          rgba[out + 1] = g(pixel, 0);
          rgba[out + 2] = b(pixel, 0);
          rgba[out + 3] = a(pixel, 255);
        }
      }
    }
  }
  const hasAlpha = masks.a.bits > 0;
  const widest = Math.max(masks.r.bits, masks.g.bits, masks.b.bits, masks.a.bits);
  return {
    width,
    height,
    bitsPerPixel: bpp,
    bitsPerSample: bpp <= 8 ? bpp : widest,
    palette: bpp <= 8,
    hasAlpha,
    rgba,
  };
}

/**
 * BI_RLE8/BI_RLE4: (count, value) runs, and escapes after a zero count: 0 end of line, 1 end of
 * bitmap, 2 a (dx, dy) jump, n >= 3 that many literal pixels padded to 16 bits. Runs past the end
 * of a row are an error, as are rows past the last.
 */
function decodeRle(
  bytes: Buffer,
  start: number,
  width: number,
  height: number,
  bits: 4 | 8,
  put: (x: number, y: number, index: number) => void,
): void {
  let at = start;
  let x = 0;
  let y = 0;
  const next = (): number => {
    if (at >= bytes.length) throw fail("the RLE data ends before its end-of-bitmap marker");
    return bytes[at++] ?? 0;
  };
  const write = (index: number) => {
    if (x >= width || y >= height) throw fail(`an RLE run writes outside the ${width}x${height} image`);
    put(x++, y, index);
  };
  while (true) {
    const count = next();
    const value = next();
    if (count > 0) {
      for (let i = 0; i < count; i++) write(bits === 8 ? value : i % 2 === 0 ? value >> 4 : value & 15);
      continue;
    }
    if (value === 0) {
      x = 0;
      y++;
    } else if (value === 1) {
      return;
    } else if (value === 2) {
      x += next();
      y += next();
      if (x > width || y > height) throw fail("an RLE delta jumps outside the image");
    } else {
      const literal = bits === 8 ? value : Math.ceil(value / 2);
      for (let i = 0; i < value; i++) {
        if (bits === 8) write(next());
        else {
          const byte = bytes[at + (i >> 1)];
          if (byte === undefined) throw fail("the RLE data ends inside a literal run");
          write(i % 2 === 0 ? byte >> 4 : byte & 15);
        }
      }
      if (bits === 4) at += literal;
      if (literal % 2 === 1) at++; // literal runs are padded to a 16-bit boundary
    }
    if (y > height) throw fail("the RLE data runs past the last row");
  }
}
