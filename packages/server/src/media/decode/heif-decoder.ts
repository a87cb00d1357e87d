/**
 * HEIC/HEIF through libheif-js (libheif and libde265 built to wasm): sharp's prebuilt libvips
 * reads HEIC headers but has no HEVC decoder. The primary image is decoded to 8-bit RGBA, with
 * libheif applying irot/imir itself, so the thumbnail gets orientation 1 from here. An HEIF
 * whose coded images are not HEVC (AV1 in a .heif) goes on to sharp, which reads those.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { checkPixels, type Decoder, type DecoderLimits, undecodable } from "./decoder.js";
import { brandsOf, isSequence, sequenceSampleCount } from "./isobmff-frames.js";
import { sharpDecoder } from "./sharp-decoder.js";
import { thumbnailFromPixels } from "./thumbnail.js";
import type { DecodedImage, DecodeRequest } from "./types.js";

/** The part of libheif-js's embind API used here (its own .d.ts is not reachable by the package's exports). */
interface HeifError {
  code: { value: number };
  message: string;
}
interface Embind {
  delete?(): void;
  $$?: { ptr: number };
}
interface HeifPlane {
  id: { value: number };
  width: number;
  height: number;
  stride: number;
  data: Uint8Array;
}
type Decoded = { image: Embind; channels: HeifPlane[] } | { code: { value: number }; message: string };
interface LibHeif {
  heif_get_version(): string;
  heif_context_alloc(): Embind;
  heif_context_free(context: Embind): void;
  heif_context_read_from_memory(context: Embind, bytes: Uint8Array): HeifError;
  heif_js_context_get_primary_image_handle(context: Embind): Embind & Partial<HeifError>;
  heif_js_context_get_list_of_top_level_image_IDs(context: Embind): number[] | HeifError;
  heif_image_handle_get_width(handle: Embind): number;
  heif_image_handle_get_height(handle: Embind): number;
  heif_image_handle_has_alpha_channel(handle: Embind): number;
  heif_image_handle_release(handle: Embind): void;
  heif_image_release(image: Embind): void;
  heif_js_decode_image2(handle: Embind, colorspace: unknown, chroma: unknown): Decoded | undefined;
  _heif_image_handle_get_luma_bits_per_pixel?(pointer: number): number;
  heif_colorspace: { heif_colorspace_RGB: unknown };
  heif_chroma: { heif_chroma_interleaved_RGBA: unknown };
  heif_channel: { heif_channel_interleaved: { value: number } };
}

const require = createRequire(import.meta.url);
let library: LibHeif | undefined;
/** Loaded on the first HEIC a decoder process sees (~80 ms; 2 MB of wasm). */
function libheif(): LibHeif {
  library ??= require("libheif-js/wasm-bundle") as LibHeif;
  return library;
}

export function heifVersion(): string {
  const { version } = require("libheif-js/package.json") as { version: string };
  return `libheif-js ${version} / libheif ${libheif().heif_get_version()}`;
}

const NOT_BUILT_IN = /has not been built in/i;

export const heifDecoder: Decoder = {
  async decode(request: DecodeRequest, limits: DecoderLimits): Promise<DecodedImage> {
    const bytes = await readFile(request.path);
    const lib = libheif();
    const context = lib.heif_context_alloc();
    let handle: Embind | undefined;
    try {
      const read = lib.heif_context_read_from_memory(context, bytes);
      if (read.code.value !== 0) throw undecodable("HEIF", read.message);
      const primary = lib.heif_js_context_get_primary_image_handle(context);
      if (primary.code !== undefined) throw undecodable("HEIF", primary.message ?? "no primary image");
      handle = primary;
      // Displayed size (transforms applied), from the header: nothing decoded yet.
      const width = lib.heif_image_handle_get_width(handle);
      const height = lib.heif_image_handle_get_height(handle);
      checkPixels("HEIF", width, height, limits);
      const hasAlpha = lib.heif_image_handle_has_alpha_channel(handle) !== 0;
      const pointer = handle.$$?.ptr;
      const bitDepth = pointer !== undefined ? (lib._heif_image_handle_get_luma_bits_per_pixel?.(pointer) ?? 8) : 8;

      const decoded = lib.heif_js_decode_image2(
        handle,
        lib.heif_colorspace.heif_colorspace_RGB,
        lib.heif_chroma.heif_chroma_interleaved_RGBA,
      );
      if (!decoded || "code" in decoded) {
        const message = decoded?.message ?? "the image did not decode";
        if (NOT_BUILT_IN.test(message)) return await sharpDecoder.decode(request, limits);
        throw undecodable("HEIF", message);
      }
      const pixels = packRgba(lib, decoded.channels, width, height);
      lib.heif_image_release(decoded.image);

      const ids = lib.heif_js_context_get_list_of_top_level_image_IDs(context);
      const images = Array.isArray(ids) ? ids.length : 1;
      const frames = (isSequence(brandsOf(bytes)) ? await sequenceSampleCount(bytes) : undefined) ?? images;
      const channels = hasAlpha ? 4 : 3;
      const thumbnail = await thumbnailFromPixels(
        pixels,
        { width, height, channels: 4 },
        1,
        request.thumbnail,
        !hasAlpha,
      );
      return {
        width,
        height,
        frames,
        channels,
        bitDepth,
        hasAlpha,
        colorSpace: "srgb",
        decoder: heifVersion(),
        thumbnail,
      };
    } finally {
      if (handle) lib.heif_image_handle_release(handle);
      lib.heif_context_free(context);
    }
  },
};

/** The interleaved plane, rows packed tight (libheif may pad its stride). */
function packRgba(lib: LibHeif, planes: HeifPlane[], width: number, height: number): Buffer {
  const plane = planes.find((p) => p.id.value === lib.heif_channel.heif_channel_interleaved.value);
  if (!plane || plane.width !== width || plane.height !== height || plane.stride < width * 4) {
    throw undecodable("HEIF", "the decoder returned no RGBA plane of the image's size");
  }
  const row = width * 4;
  const out = Buffer.allocUnsafe(row * height);
  for (let y = 0; y < height; y++) out.set(plane.data.subarray(y * plane.stride, y * plane.stride + row), y * row);
  return out;
}
