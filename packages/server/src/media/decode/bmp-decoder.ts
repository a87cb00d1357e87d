/** BMP: decoded here (bmp-pixels.ts), thumbnailed through sharp from the RGBA pixels. */
import { readFile } from "node:fs/promises";
import { decodeBmp } from "./bmp-pixels.js";
import { type Decoder, type DecoderLimits, displayed } from "./decoder.js";
import { thumbnailFromPixels } from "./thumbnail.js";
import type { DecodedImage, DecodeRequest } from "./types.js";

export const BMP_DECODER_VERSION = "vi bmp-pixels 1";

export const bmpDecoder: Decoder = {
  async decode(request: DecodeRequest, limits: DecoderLimits): Promise<DecodedImage> {
    const bmp = decodeBmp(await readFile(request.path), limits);
    const { width, height } = displayed(bmp.width, bmp.height, request.orientation);
    const thumbnail = await thumbnailFromPixels(
      bmp.rgba,
      { width: bmp.width, height: bmp.height, channels: 4 },
      request.orientation,
      request.thumbnail,
      !bmp.hasAlpha,
    );
    return {
      width,
      height,
      frames: 1,
      channels: bmp.hasAlpha ? 4 : 3,
      bitDepth: bmp.bitsPerSample,
      hasAlpha: bmp.hasAlpha,
      colorSpace: bmp.palette ? "palette" : "srgb",
      decoder: BMP_DECODER_VERSION,
      thumbnail,
    };
  },
};
