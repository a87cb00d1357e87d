/**
 * The decoders' common shape inside the decoder process, and the errors they raise. One decoder
 * per library; the worker picks one by the probe's mime type.
 */
import { DecodeError, type DecodedImage, type DecodeRequest } from "./types.js";

/** What the worker hands a decoder besides the request: the limits a decoder checks itself. */
export interface DecoderLimits {
  /** Largest width x height decoded; checked from the header before any pixel is allocated. */
  maxPixels: number;
}

export interface Decoder {
  /** Decodes every pixel of the first frame and makes the thumbnail; throws DecodeError. */
  decode(request: DecodeRequest, limits: DecoderLimits): Promise<DecodedImage>;
}

/** The bytes do not decode; `format` names what failed ("PNG", "JPEG 2000", ...). */
export function undecodable(format: string, reason: string): DecodeError {
  return new DecodeError("EDECODE", `${format}: ${reason}`);
}

/** A variant the decoder cannot read, though the bytes may be fine (not the file's fault). */
export function unsupported(format: string, reason: string): DecodeError {
  return new DecodeError("EUNSUPPORTED", `${format}: ${reason}`);
}

/** Checked before decoding, so a decompression bomb costs a header read, never its pixels. */
export function checkPixels(format: string, width: number, height: number, limits: DecoderLimits): void {
  if (!(width > 0 && height > 0)) throw undecodable(format, `impossible size ${width}x${height}`);
  if (width * height > limits.maxPixels) {
    throw new DecodeError(
      "ELIMIT",
      `${format}: ${width}x${height} is ${width * height} pixels, over the limit of ${limits.maxPixels}`,
    );
  }
}

/** EXIF orientations 5..8 turn the image a quarter: displayed width and height swap. */
export function displayed(width: number, height: number, orientation: number): { width: number; height: number } {
  return orientation >= 5 && orientation <= 8 ? { width: height, height: width } : { width, height };
}
