/**
 * The image header probe: what an uploaded file is, from its bytes alone, and
 * whether it is whole. See probe.ts.
 */
export { MediaError, type MediaErrorCode } from "./errors.js";
export type { ImageInfo } from "./image-info.js";
export {
  DEFAULT_MAX_PIXELS,
  probeImageFile,
  probeImageBytes,
  type ProbeOptions,
  SUPPORTED_EXTENSIONS,
} from "./probe.js";
