/**
 * The little of JPEG 2000 the decoder needs before OpenJPEG runs: the codestream inside a JP2
 * file (the jp2c box) and the image header (SIZ), so the pixel limit is checked on the header.
 */
import { undecodable } from "./decoder.js";

export interface Siz {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  components: { bits: number; signed: boolean; dx: number; dy: number }[];
}

const JP2_SIGNATURE = Buffer.from([0, 0, 0, 12, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a]);

/**
 * The codestream: the whole file for a raw one (.j2c/.j2k), the jp2c box payload for JP2. A jp2c
 * box whose length runs past the end of the file is read to the end (writers that stream the
 * codestream fix the length up afterwards, or never); every other decoder reads such files too.
 */
export function codestreamOf(bytes: Buffer): Buffer {
  if (bytes.length >= 12 && bytes.subarray(0, 12).equals(JP2_SIGNATURE)) {
    for (let at = 0; at + 8 <= bytes.length;) {
      let size = bytes.readUInt32BE(at);
      const type = bytes.toString("latin1", at + 4, at + 8);
      let header = 8;
      if (size === 1) {
        if (at + 16 > bytes.length) break;
        size = Number(bytes.readBigUInt64BE(at + 8));
        header = 16;
      }
      const end = size === 0 ? bytes.length : Math.min(at + size, bytes.length);
      if (size !== 0 && size < header) throw undecodable("JPEG 2000", `box '${type}' has an impossible length ${size}`);
      if (type === "jp2c") return bytes.subarray(at + header, end);
      at = end;
    }
    throw undecodable("JPEG 2000", "the JP2 file has no codestream (jp2c) box");
  }
  return bytes;
}

/** Reads SOC and the SIZ segment that must follow it. */
export function readSiz(codestream: Buffer): Siz {
  if (codestream.length < 4 || codestream.readUInt16BE(0) !== 0xff4f || codestream.readUInt16BE(2) !== 0xff51) {
    throw undecodable("JPEG 2000", "the codestream does not start with SOC and SIZ markers");
  }
  const length = codestream.length >= 6 ? codestream.readUInt16BE(4) : 0;
  if (length < 41 || 4 + length > codestream.length) throw undecodable("JPEG 2000", "the SIZ segment is truncated");
  const u32 = (at: number): number => codestream.readUInt32BE(4 + at);
  const count = codestream.readUInt16BE(4 + 36);
  if (count < 1 || count > 16384 || 38 + 3 * count > length) {
    throw undecodable("JPEG 2000", `SIZ declares ${count} components in ${length} bytes`);
  }
  const components = Array.from({ length: count }, (_, i) => {
    const at = 4 + 38 + 3 * i;
    const ssiz = codestream[at] ?? 0;
    return {
      bits: (ssiz & 0x7f) + 1,
      signed: (ssiz & 0x80) !== 0,
      dx: codestream[at + 1] ?? 0,
      dy: codestream[at + 2] ?? 0,
    };
  });
  const [xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz] = [u32(4), u32(8), u32(12), u32(16), u32(20), u32(24)];
  if (xosiz >= xsiz || yosiz >= ysiz) throw undecodable("JPEG 2000", `SIZ image offset lies outside the image`);
  return { width: xsiz - xosiz, height: ysiz - yosiz, tileWidth: xtsiz, tileHeight: ytsiz, components };
}
