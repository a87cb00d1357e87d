/** Which decoder reads which mime type (the probe's, from the bytes, never the file name). */
import { bmpDecoder } from "./bmp-decoder.js";
import type { Decoder } from "./decoder.js";
import { heifDecoder } from "./heif-decoder.js";
import { jpeg2000Decoder } from "./jpeg2000-decoder.js";
import { sharpDecoder } from "./sharp-decoder.js";

const BY_MIME_TYPE: Record<string, Decoder> = {
  "image/jpeg": sharpDecoder,
  "image/png": sharpDecoder,
  "image/webp": sharpDecoder,
  "image/gif": sharpDecoder,
  "image/tiff": sharpDecoder,
  "image/avif": sharpDecoder,
  "image/heic": heifDecoder,
  "image/heif": heifDecoder,
  "image/heic-sequence": heifDecoder,
  "image/heif-sequence": heifDecoder,
  "image/jp2": jpeg2000Decoder,
  "image/x-j2c": jpeg2000Decoder,
  "image/bmp": bmpDecoder,
};

export function decoderFor(mimeType: string): Decoder | undefined {
  return BY_MIME_TYPE[mimeType];
}
