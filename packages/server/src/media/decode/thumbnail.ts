/**
 * Thumbnails through sharp, from a file sharp reads or from raw pixels another decoder made.
 * The EXIF orientation is applied here and only here: sharp is always built with autoOrient
 * off, and the wasm decoders hand over pixels as stored (libheif, which applies irot/imir itself,
 * passes orientation 1).
 */
import sharp, { type Sharp } from "sharp";
import type { DecodedImage, ThumbnailSpec } from "./types.js";

/**
 * Turns a stored grid into its displayed form. sharp 0.35 mirrors before it turns, whatever
 * the order of the calls (its typings say otherwise for flop; decode.test.ts checks all eight
 * values against libvips' own EXIF autorotation), so each value is a mirror, then a turn.
 */
export function orient(image: Sharp, orientation: number): Sharp {
  switch (orientation) {
    case 2:
      return image.flop();
    case 3:
      return image.rotate(180);
    case 4:
      return image.flip();
    case 5: // transpose: mirrored left-right, then a quarter turn anticlockwise
      return image.flop().rotate(270);
    case 6:
      return image.rotate(90);
    case 7: // transverse: mirrored left-right, then a quarter turn clockwise
      return image.flop().rotate(90);
    case 8:
      return image.rotate(270);
    default:
      return image;
  }
}

/**
 * Scales into a maxSide square (the box is square, so it does not matter that the turn of
 * `orient` happens before or after the resize) and encodes. JPEG has no alpha: flattened on white.
 */
export async function encodeThumbnail(image: Sharp, spec: ThumbnailSpec): Promise<DecodedImage["thumbnail"]> {
  const resized = image.resize({ width: spec.maxSide, height: spec.maxSide, fit: "inside", withoutEnlargement: true });
  const encoded =
    spec.format === "jpeg"
      ? resized.flatten({ background: "#ffffff" }).jpeg({ quality: spec.quality })
      : // Effort 2 of 6: a third less CPU than the default for a thumbnail a few percent larger.
        resized.webp({ quality: spec.quality, effort: 2 });
  const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
  return { bytes: data, mimeType: `image/${spec.format}`, width: info.width, height: info.height };
}

/**
 * A thumbnail from 8-bit interleaved pixels (1 to 4 channels) that another decoder produced.
 * `opaque`: the fourth channel is padding (an RGBA buffer of an image without alpha).
 */
export function thumbnailFromPixels(
  pixels: Buffer,
  layout: { width: number; height: number; channels: 1 | 2 | 3 | 4 },
  orientation: number,
  spec: ThumbnailSpec,
  opaque = false,
): Promise<DecodedImage["thumbnail"]> {
  // The pixels are already in memory and were counted against the pixel limit by their decoder.
  let image = sharp(pixels, { raw: layout, limitInputPixels: false });
  if (opaque && layout.channels === 4) image = image.removeAlpha();
  return encodeThumbnail(orient(image, orientation), spec);
}
