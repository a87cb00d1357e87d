import { fourCC, hexPreview, startsWith } from "./bytes.js";
import { notAnImage } from "./errors.js";

/** The format families the probe parses; ISOBMFF covers HEIF, HEIC and AVIF (told apart by brands). */
export type FormatFamily = "jpeg" | "png" | "gif" | "webp" | "tiff" | "bmp" | "isobmff" | "jp2" | "j2k";

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
export const JP2_SIGNATURE_BOX = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a] as const;
/** DIB header sizes of the BMP variants in use (core, OS/2 2.x short and long, info, v2..v5). */
export const BMP_DIB_HEADER_SIZES: ReadonlySet<number> = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/**
 * Decides the format family from the first bytes alone. Anything unrecognised is
 * EBADMIME, with a message saying what the bytes look like instead, so a user
 * who uploaded an HTML error page or an SVG learns why it was refused.
 */
export function sniffFormat(head: Buffer, size: number): FormatFamily {
  if (size === 0) throw notAnImage("the file is empty (0 bytes), not an image");

  if (startsWith(head, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(head, PNG_SIGNATURE)) return "png";
  const ascii6 = head.toString("latin1", 0, 6);
  if (ascii6 === "GIF87a" || ascii6 === "GIF89a") return "gif";
  if (head.length >= 12 && fourCC(head, 0) === "RIFF") {
    if (fourCC(head, 8) === "WEBP") return "webp";
    throw notAnImage(`a RIFF '${fourCC(head, 8)}' file (such as audio or video), not a WebP image`);
  }
  if (
    startsWith(head, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(head, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2b])
  ) {
    return "tiff";
  }
  // "BM" alone is too weak (plain text can start with it): also require a known DIB header size.
  if (head.length >= 18 && head[0] === 0x42 && head[1] === 0x4d && BMP_DIB_HEADER_SIZES.has(head.readUInt32LE(14))) {
    return "bmp";
  }
  if (startsWith(head, JP2_SIGNATURE_BOX)) return "jp2";
  if (startsWith(head, [0xff, 0x4f, 0xff, 0x51])) return "j2k";
  // Brands decide later whether an ISO media file is a HEIF/AVIF image or, say, an MP4 video.
  if (head.length >= 12 && fourCC(head, 4) === "ftyp") return "isobmff";

  throw notAnImage(describeUnsupported(head));
}

const SIGNATURE_PREFIXES: readonly [readonly number[], string][] = [
  [[0xff, 0xd8, 0xff], "JPEG"],
  [PNG_SIGNATURE, "PNG"],
  [[0x47, 0x49, 0x46, 0x38, 0x39, 0x61], "GIF"],
  [[0x47, 0x49, 0x46, 0x38, 0x37, 0x61], "GIF"],
  [[0x52, 0x49, 0x46, 0x46], "RIFF (WebP)"],
  [[0x49, 0x49, 0x2a, 0x00], "TIFF"],
  [[0x4d, 0x4d, 0x00, 0x2a], "TIFF"],
  [JP2_SIGNATURE_BOX, "JPEG 2000"],
  [[0xff, 0x4f, 0xff, 0x51], "JPEG 2000 codestream"],
];

function describeUnsupported(head: Buffer): string {
  for (const [signature, name] of SIGNATURE_PREFIXES) {
    if (head.length < signature.length && startsWith(Buffer.from(signature), [...head])) {
      return `the file is only ${head.length} bytes, too short to be an image (it starts like a ${name} signature)`;
    }
  }
  const known: readonly [readonly number[], string][] = [
    [[0x25, 0x50, 0x44, 0x46, 0x2d], "a PDF document"],
    [[0x50, 0x4b, 0x03, 0x04], "a ZIP archive (or a document format built on ZIP)"],
    [[0x1f, 0x8b], "a gzip archive"],
    [[0x38, 0x42, 0x50, 0x53], "a Photoshop document (PSD), which is not a supported format"],
    [[0xff, 0x0a], "a JPEG XL codestream, which is not a supported format"],
    [[0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20], "a JPEG XL file, which is not a supported format"],
    [[0x76, 0x2f, 0x31, 0x01], "an OpenEXR image, which is not a supported format"],
    [[0x00, 0x00, 0x01, 0x00], "a Windows icon (ICO), which is not a supported format"],
  ];
  for (const [signature, description] of known) {
    if (startsWith(head, signature)) return `the file is ${description}`;
  }
  if (looksLikeText(head)) {
    const text = head.toString("utf8", 0, Math.min(head.length, 4096)).toLowerCase();
    if (text.includes("<svg")) return "the file is an SVG (vector graphics) document; SVG is not a supported format";
    if (text.includes("<!doctype html") || text.includes("<html") || text.includes("<script")) {
      return "the file is an HTML document, not an image";
    }
    if (text.trimStart().startsWith("<?xml")) return "the file is an XML document, not an image";
    return "the file is plain text, not an image";
  }
  return `unrecognised file signature (${hexPreview(head)}): not an image in a supported format`;
}

/** Text if the first bytes are valid UTF-8 with no control characters other than whitespace. */
function looksLikeText(head: Buffer): boolean {
  const sample = head.subarray(0, Math.min(head.length, 1024));
  if (sample.length === 0) return false;
  // Cut at most 3 bytes so a multi-byte character split by the sample does not count against it.
  for (let cut = 0; cut <= 3 && cut < sample.length; cut++) {
    const part = sample.subarray(0, sample.length - cut);
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(part);
    } catch {
      continue;
    }
    return !/[\x00-\x08\x0b\x0e-\x1f\x7f]/.test(decoded);
  }
  return false;
}
