export { createDecoderPool, DEFAULT_LIMITS, DEFAULT_THUMBNAIL, type DecoderProcessPool, workerEntry } from "./pool.js";
export {
  DecodeError,
  type DecodedImage,
  type DecodeErrorCode,
  type DecodeLimits,
  type DecoderPool,
  type DecoderPoolOptions,
  type DecodeRequest,
  type ThumbnailSpec,
} from "./types.js";
