/**
 * What exiftool says about each file of the decode corpus (test-fixtures/images/decode-corpus,
 * its exiftool.json made by make.sh), in the terms of DecodedImage. A field is undefined where
 * exiftool does not say. Kept apart from the test so the rules can be read in one place.
 */
import type { DecodedImage } from "../src/media/decode/index.js";

export type ExifRecord = Record<string, unknown>;
export type Compared = Pick<DecodedImage, "width" | "height" | "frames" | "bitDepth" | "channels" | "hasAlpha">;

export const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  png: "image/png",
  tif: "image/tiff",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  heic: "image/heic",
  jp2: "image/jp2",
  j2c: "image/x-j2c",
  bmp: "image/bmp",
};

export function mimeOf(file: string): string {
  const mime = MIME_BY_EXTENSION[file.split(".").pop() ?? ""];
  if (!mime) throw new Error(`no mime type for ${file}`);
  return mime;
}

const numbers = (value: unknown): number[] =>
  value === undefined ? [] : String(value).split(/\s+/).filter(Boolean).map(Number);
const first = (value: unknown): number | undefined => numbers(value)[0];
function field(record: ExifRecord, ...names: string[]): unknown {
  for (const name of names) if (record[name] !== undefined) return record[name];
  return undefined;
}

/**
 * The EXIF-equivalent orientation the upload probe would hand over: EXIF Orientation, or for
 * HEIF/AVIF the irot rotation exiftool reports (90 anticlockwise is EXIF 8, 270 is EXIF 6).
 */
export function orientationOf(record: ExifRecord): number {
  const exif = first(record["EXIF:Orientation"]);
  if (exif !== undefined) return exif;
  const rotation = first(record["QuickTime:Rotation"]);
  return rotation === 90 ? 8 : rotation === 180 ? 3 : rotation === 270 ? 6 : 1;
}

export function expectedFromExiftool(file: string, record: ExifRecord): Partial<Compared> {
  const mime = mimeOf(file);
  const storedWidth = first(
    field(
      record,
      "File:ImageWidth",
      "PNG:ImageWidth",
      "EXIF:ImageWidth",
      "GIF:ImageWidth",
      "RIFF:ImageWidth",
      "Jpeg2000:ImageWidth",
    ),
  );
  const storedHeight = first(
    field(
      record,
      "File:ImageHeight",
      "PNG:ImageHeight",
      "EXIF:ImageHeight",
      "GIF:ImageHeight",
      "RIFF:ImageHeight",
      "Jpeg2000:ImageHeight",
    ),
  );
  // exiftool gives the stored grid; a quarter turn (EXIF 5..8, irot 90/270) swaps it for display.
  const orientation = orientationOf(record);
  const swap = orientation >= 5 && orientation <= 8;
  const out: Partial<Compared> = {
    width: swap ? storedHeight : storedWidth,
    height: swap ? storedWidth : storedHeight,
  };
  switch (mime) {
    case "image/jpeg": {
      const components = first(record["File:ColorComponents"]);
      Object.assign(out, {
        frames: 1,
        bitDepth: first(record["File:BitsPerSample"]),
        channels: components,
        hasAlpha: false,
      });
      break;
    }
    case "image/png": {
      const colorType = first(record["PNG:ColorType"]);
      // Colour type 0 grey, 2 RGB, 3 palette (decoded to RGB), 4 grey+alpha, 6 RGBA.
      const channels =
        colorType === undefined ? undefined : ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
      Object.assign(out, {
        frames: 1,
        bitDepth: first(record["PNG:BitDepth"]),
        channels,
        hasAlpha: colorType === 4 || colorType === 6,
      });
      break;
    }
    case "image/tiff": {
      // Without -a exiftool keeps the last IFD's PageNumber: "index total", total 0 when unknown.
      const [index = 0, total = 1] = numbers(record["EXIF:PageNumber"]);
      Object.assign(out, {
        frames: Math.max(index + 1, total),
        bitDepth: first(record["EXIF:BitsPerSample"]),
        channels: first(record["EXIF:SamplesPerPixel"]),
        hasAlpha: record["EXIF:ExtraSamples"] !== undefined,
      });
      break;
    }
    case "image/gif":
      Object.assign(out, {
        frames: first(record["GIF:FrameCount"]) ?? 1,
        bitDepth: first(record["GIF:BitsPerPixel"]),
        hasAlpha: record["GIF:TransparentColor"] !== undefined,
      });
      break;
    case "image/webp":
      // exiftool reads the canvas size only: no frame count, depth or alpha flag.
      break;
    case "image/avif":
    case "image/heic": {
      // pixi lists a depth per channel; without -a exiftool keeps the last pixi it meets, which
      // for a file with alpha is the alpha item's: the channel count is known only without alpha.
      const depths = numbers(record["QuickTime:ImagePixelDepth"]);
      const hasAlpha = /alpha|auxid:1$/.test(String(record["QuickTime:AuxiliaryImageType"] ?? ""));
      Object.assign(out, {
        bitDepth: first(record["QuickTime:BitDepthLuma"]) ?? depths[0],
        channels: hasAlpha || depths.length === 0 ? undefined : depths.length,
        hasAlpha,
      });
      break;
    }
    case "image/jp2": {
      // BitsPerComponent as stored in the ihdr box: bits - 1 (with -n).
      const bits = first(record["Jpeg2000:BitsPerComponent"]);
      const components = first(record["Jpeg2000:NumberOfComponents"]);
      Object.assign(out, {
        frames: 1,
        bitDepth: bits === undefined ? undefined : bits + 1,
        channels: components,
        hasAlpha: components === 2 || components === 4,
      });
      break;
    }
    case "image/bmp": {
      // BitDepth is bits per pixel: a palette index up to 8, three or four 8-bit samples at 24/32.
      const bpp = first(record["File:BitDepth"]) ?? 0;
      const alpha = (first(record["File:AlphaMask"]) ?? 0) > 0;
      Object.assign(out, {
        frames: 1,
        bitDepth: bpp <= 8 ? bpp : bpp === 16 ? undefined : 8,
        channels: alpha ? 4 : 3,
        hasAlpha: alpha,
      });
      break;
    }
  }
  return out;
}
