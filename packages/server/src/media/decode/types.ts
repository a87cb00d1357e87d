/**
 * The contract between the processing jobs and the decoders. A decoder reads a stored blob by
 * path, decodes it fully (every pixel of the first frame; frame counts from the container),
 * and makes its thumbnail. It runs outside the server's process, under limits, so a hostile
 * file can cost one decode, never the server.
 */

/** What the thumbnail should be. */
export interface ThumbnailSpec {
  /** Longest side in pixels (never upscaled). Default 256. */
  maxSide: number;
  /** Encoding of the thumbnail. Default "webp". */
  format: "webp" | "jpeg";
  /** Encoder quality 1..100. Default 80. */
  quality: number;
}

export interface DecodeRequest {
  /** The stored blob, read-only. */
  path: string;
  /** What the upload probe found the bytes to be ("image/jpeg", "image/heic", "image/x-j2c", ...). */
  mimeType: string;
  /** The probe's EXIF-equivalent orientation 1..8, applied to the thumbnail. */
  orientation: number;
  thumbnail: ThumbnailSpec;
}

/** What a full decode finds; width/height are displayed (orientation applied). */
export interface DecodedImage {
  width: number;
  height: number;
  /** Animation frames, pages or sequence samples; 1 for a still image. */
  frames: number;
  /** Channels of the decoded pixels, alpha included (1 grey, 2 grey+alpha, 3, 4). */
  channels: number;
  /** Bits per sample as stored (1, 2, 4, 8, 10, 12, 16). */
  bitDepth: number;
  hasAlpha: boolean;
  /** "srgb", "b-w" (grey), "cmyk", "palette", ... as the decoder names the stored model. */
  colorSpace: string;
  /** Which library decoded it, with its version: "sharp 0.35.5 / libvips 8.18.7". */
  decoder: string;
  thumbnail: { bytes: Buffer; mimeType: string; width: number; height: number };
}

/**
 * Why a decode failed. `EDECODE`: the bytes do not decode (permanent: the asset is in error).
 * `EUNSUPPORTED`: a variant of the format these decoders cannot read (e.g. a 4-component JPEG
 * 2000): the bytes may well be fine, so the asset is not put in error; it gets no thumbnail.
 * `ELIMIT`: over the pixel or memory limit (permanent). `ETIMEOUT`: over the time limit
 * (permanent after the job's retries). `ECRASH`: the decoder process died for another reason
 * (retried; an infrastructure fault, not necessarily the file's).
 */
export type DecodeErrorCode = "EDECODE" | "EUNSUPPORTED" | "ELIMIT" | "ETIMEOUT" | "ECRASH";

export class DecodeError extends Error {
  readonly code: DecodeErrorCode;
  constructor(code: DecodeErrorCode, message: string) {
    super(message);
    this.name = "DecodeError";
    this.code = code;
  }
  /** Worth another attempt: the decoder died or stalled, which a busy machine can cause. */
  get retryable(): boolean {
    return this.code === "ECRASH" || this.code === "ETIMEOUT";
  }
}

export interface DecodeLimits {
  /** Largest width x height decoded (default 100 million). */
  maxPixels: number;
  /** Wall-clock limit of one decode, ms (default 30,000). */
  timeoutMs: number;
  /** Resident memory at which the decoder process is killed (default 1 GiB). */
  maxRssBytes: number;
}

/** A bounded set of decoder processes. */
export interface DecoderPool {
  /** Decodes one image; rejects with DecodeError. Waits for a free decoder when all are busy. */
  decode(request: DecodeRequest, signal?: AbortSignal): Promise<DecodedImage>;
  /** Stops every decoder process; pending decodes reject with ECRASH. */
  close(): Promise<void>;
}

export interface DecoderPoolOptions {
  /** Decoder processes at most (default 1). */
  concurrency?: number;
  limits?: Partial<DecodeLimits>;
  /** Scheduling niceness of the decoder processes, 0..19 (default 10): uploads come first. */
  nice?: number;
  /** An idle decoder process is stopped after this many ms (default 10,000); the next decode starts one. */
  idleTimeoutMs?: number;
}
