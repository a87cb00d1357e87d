/** What the probe learns about an image from its headers. */
export interface ImageInfo {
  /** What the bytes are, whatever the filename says: e.g. "image/jpeg". */
  mimeType: string;
  /** Displayed size: EXIF orientation 5..8 (and HEIF 'irot' 90/270) swap the stored width and height. */
  width: number;
  height: number;
  /** The stored pixel grid, before orientation (for HEIF: the 'ispe' size, before the 'clap' crop). */
  rawWidth: number;
  rawHeight: number;
  /** EXIF orientation 1..8, 1 when absent (for HEIF: the EXIF equivalent of its 'irot'/'imir' properties). */
  orientation: number;
  /** GIF/WebP/APNG animation frames, TIFF pages (IFDs), else 1. */
  frames: number;
}
