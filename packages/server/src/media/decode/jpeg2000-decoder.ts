/**
 * JPEG 2000 (JP2 files and raw codestreams) through @cornerstonejs/codec-openjpeg, OpenJPEG
 * built to wasm. It decodes a codestream to interleaved samples (8 or 16 bit); those are scaled
 * to 8 bits for the thumbnail, which sharp makes.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { checkPixels, type Decoder, type DecoderLimits, displayed, undecodable, unsupported } from "./decoder.js";
import { codestreamOf, readSiz, type Siz } from "./jpeg2000-codestream.js";
import { thumbnailFromPixels } from "./thumbnail.js";
import type { DecodedImage, DecodeRequest } from "./types.js";

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}
interface J2KDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
interface OpenJpeg {
  J2KDecoder: new () => J2KDecoder;
}
type Factory = (options: { print: (line: string) => void; printErr: (line: string) => void }) => Promise<OpenJpeg>;

const FORMAT = "JPEG 2000";
const require = createRequire(import.meta.url);
/** OpenJPEG's own messages ("[ERROR] Invalid tile number 200") of the decode under way. */
let messages: string[] = [];
let module: Promise<OpenJpeg> | undefined;
function openjpeg(): Promise<OpenJpeg> {
  const factory = require("@cornerstonejs/codec-openjpeg/wasmjs") as Factory;
  module ??= factory({ print: (line) => messages.push(line), printErr: (line) => messages.push(line) });
  return module;
}

export function openjpegVersion(): string {
  // The package's exports map hides package.json; it sits one folder above the entry.
  const entry = require.resolve("@cornerstonejs/codec-openjpeg");
  const { version } = require(join(dirname(entry), "..", "package.json")) as { version: string };
  return `@cornerstonejs/codec-openjpeg ${version} (OpenJPEG, wasm)`;
}

export const jpeg2000Decoder: Decoder = {
  async decode(request: DecodeRequest, limits: DecoderLimits): Promise<DecodedImage> {
    const codestream = codestreamOf(await readFile(request.path));
    const siz = readSiz(codestream);
    checkPixels(FORMAT, siz.width, siz.height, limits);
    const count = siz.components.length;
    // This build converts 1 or 3 components only (its C++ throws on others, with no message).
    if (count !== 1 && count !== 3) {
      throw unsupported(FORMAT, `${count} components; the decoder (OpenJPEG in codec-openjpeg) reads 1 or 3`);
    }
    if (siz.components.some((c) => c.dx !== 1 || c.dy !== 1)) {
      throw unsupported(FORMAT, "subsampled components (XRsiz/YRsiz > 1) are not read by this decoder");
    }
    const samples = await decodeSamples(codestream, siz);
    const bits = Math.max(...siz.components.map((c) => c.bits));
    const pixels = toEightBit(samples, siz);
    const { width, height } = displayed(siz.width, siz.height, request.orientation);
    const channels = count === 1 ? 1 : 3;
    const thumbnail = await thumbnailFromPixels(
      pixels,
      { width: siz.width, height: siz.height, channels },
      request.orientation,
      request.thumbnail,
    );
    return {
      width,
      height,
      frames: 1,
      channels,
      bitDepth: bits,
      hasAlpha: false,
      colorSpace: count === 1 ? "b-w" : "srgb",
      decoder: openjpegVersion(),
      thumbnail,
    };
  },
};

async function decodeSamples(codestream: Buffer, siz: Siz): Promise<Uint8Array> {
  const { J2KDecoder } = await openjpeg();
  const decoder = new J2KDecoder();
  messages = [];
  try {
    decoder.getEncodedBuffer(codestream.length).set(codestream);
    try {
      decoder.decode();
    } catch {
      // A C++ exception arrives as a bare pointer; OpenJPEG's printed messages say more.
      throw undecodable(FORMAT, reason("the decoder raised an exception"));
    }
    const info = decoder.getFrameInfo();
    const bytesPerSample = info.bitsPerSample > 8 ? 2 : 1;
    const expected = siz.width * siz.height * siz.components.length * bytesPerSample;
    const decoded = decoder.getDecodedBuffer();
    // On a fatal error OpenJPEG's wrapper returns quietly with an empty frame.
    if (info.width !== siz.width || info.height !== siz.height || decoded.length !== expected) {
      throw undecodable(FORMAT, reason("the codestream did not decode"));
    }
    return Uint8Array.from(decoded); // out of the wasm heap before the decoder is freed
  } finally {
    decoder.delete();
  }
}

function reason(fallback: string): string {
  const errors = messages.filter((line) => line.startsWith("[ERROR]")).map((line) => line.slice(8).trim());
  return errors.length > 0 ? [...new Set(errors)].join("; ") : fallback;
}

/** Interleaved samples of any precision (16-bit ones little-endian, signed ones two's complement) to 8 bits. */
function toEightBit(samples: Uint8Array, siz: Siz): Buffer {
  const count = siz.components.length;
  const bits = Math.max(...siz.components.map((c) => c.bits));
  // Unsigned 8-bit samples are the thumbnail's already.
  if (siz.components.every((c) => c.bits === 8 && !c.signed))
    return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const wide = bits > 8;
  const total = siz.width * siz.height * count;
  const out = Buffer.allocUnsafe(total);
  const view = new DataView(samples.buffer, samples.byteOffset, samples.byteLength);
  for (let i = 0; i < total; i++) {
    const component = siz.components[i % count] ?? { bits: 8, signed: false };
    const max = 2 ** component.bits - 1;
    let value = wide ? view.getUint16(i * 2, true) : (samples[i] ?? 0);
    if (component.signed) {
      // Sign-extend from the container width, then shift to 0..max.
      const width = wide ? 16 : 8;
      if (value >= 2 ** (width - 1)) value -= 2 ** width;
      value += 2 ** (component.bits - 1);
    }
    out[i] = Math.round((Math.min(Math.max(value, 0), max) * 255) / max);
  }
  return out;
}
