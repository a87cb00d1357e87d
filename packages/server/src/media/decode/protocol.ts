/** The messages between the pool and a decoder process (structured clone: Buffers cross as bytes). */
import type { DecodeErrorCode, DecodedImage, DecodeRequest } from "./types.js";

export interface DecodeMessage {
  id: number;
  request: DecodeRequest;
  maxPixels: number;
}

/** Sent once by a new process when its libraries are loaded: its decodes' clocks start then. */
export interface ReadyMessage {
  ready: true;
}

export type ResultMessage =
  { id: number; ok: true; image: DecodedImage } | { id: number; ok: false; code: DecodeErrorCode; message: string };
