/** The messages between the pool and a decoder process (structured clone: Buffers cross as bytes). */
import type { DecodeErrorCode, DecodedImage, DecodeRequest } from "./types.js";

export interface DecodeMessage {
  id: number;
  request: DecodeRequest;
  maxPixels: number;
}

export type ResultMessage =
  { id: number; ok: true; image: DecodedImage } | { id: number; ok: false; code: DecodeErrorCode; message: string };
