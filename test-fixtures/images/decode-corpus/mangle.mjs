// Byte surgery for make.sh: the broken files and the BMP variants that no Debian tool writes.
// Usage: node mangle.mjs <what> <in> <out>
import { readFileSync, writeFileSync } from "node:fs";

const [what, input, output, ...rest] = process.argv.slice(2);
const bytes = readFileSync(input);

// A fixed pseudo-random stream, so the corpus is the same on every run.
let seed = 0x9e3779b9;
function random() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Garbles the middle of the first IDAT's deflate data and writes a correct CRC: only inflating finds it. */
function pngZlib(png) {
  const out = Buffer.from(png);
  for (let at = 8; at < out.length; ) {
    const length = out.readUInt32BE(at);
    const type = out.toString("latin1", at + 4, at + 8);
    if (type === "IDAT") {
      const data = out.subarray(at + 8, at + 8 + length);
      for (let i = Math.floor(length / 3); i < Math.floor((2 * length) / 3); i++) data[i] = random() & 0xff;
      out.writeUInt32BE(crc32(out.subarray(at + 4, at + 8 + length)), at + 8 + length);
      return out;
    }
    at += 12 + length;
  }
  throw new Error("no IDAT");
}

/**
 * Overwrites the payload of every mdat box with noise after its first `keep` bytes: the boxes
 * parse, the coded image does not. HEVC needs the noise to start at the NAL unit header (keep 4,
 * past the length prefix): libde265 conceals noise inside the CABAC slice data and returns an
 * image, as HEVC decoders in error-resilient mode do. dav1d refuses noise anywhere past the
 * sequence header.
 */
function isobmffGarbage(file, keep = "48") {
  const out = Buffer.from(file);
  for (let at = 0; at + 8 <= out.length; ) {
    const size = out.readUInt32BE(at);
    const type = out.toString("latin1", at + 4, at + 8);
    const end = size === 0 ? out.length : at + size;
    if (type === "mdat") for (let i = at + 8 + Number(keep); i < end; i++) out[i] = random() & 0xff;
    at = end;
  }
  return out;
}

/**
 * An impossible tile index in the first tile-part header (SOT): OpenJPEG refuses it. Noise in
 * the code-block data would not do: OpenJPEG decodes it, as designed, to wrong pixels.
 */
function jp2TileIndex(file) {
  const out = Buffer.from(file);
  const sot = out.indexOf(Buffer.from([0xff, 0x90]));
  if (sot < 0) throw new Error("no SOT");
  out.writeUInt16BE(200, sot + 4);
  return out;
}

/**
 * Adds an irot property (anticlockwise quarter turns) to the primary item of an HEIC that
 * heif-enc wrote (libheif 1.15 has no option for it): the box goes at the end of ipco, its
 * association into ipma, the parents grow, and iloc's base offset follows the moved mdat.
 * Refuses any layout other than heif-enc's (one item, 4-byte offsets, version 0 ipma).
 */
function heifIrot(file, turns = "1") {
  const find = (start, end, type) => {
    for (let at = start; at + 8 <= end; at += file.readUInt32BE(at)) {
      if (file.toString("latin1", at + 4, at + 8) === type) return { at, end: at + file.readUInt32BE(at) };
    }
    throw new Error(`no ${type} box`);
  };
  const meta = find(0, file.length, "meta");
  const iloc = find(meta.at + 12, meta.end, "iloc");
  const iprp = find(meta.at + 12, meta.end, "iprp");
  const ipco = find(iprp.at + 8, iprp.end, "ipco");
  const ipma = find(iprp.at + 8, iprp.end, "ipma");
  if (file.readUInt16BE(iloc.at + 12) !== 0x4440 || file.readUInt16BE(iloc.at + 14) !== 1) throw new Error("unexpected iloc");
  if (file[ipma.at + 8] !== 0 || file.readUInt32BE(ipma.at + 12) !== 1 || ipma.end !== iprp.end) throw new Error("unexpected ipma");
  let index = 0;
  for (let at = ipco.at + 8; at < ipco.end; at += file.readUInt32BE(at)) index++;
  const irot = Buffer.from([0, 0, 0, 9, 0x69, 0x72, 0x6f, 0x74, Number(turns) & 3]);
  const out = Buffer.concat([
    file.subarray(0, ipco.end),
    irot,
    file.subarray(ipco.end, ipma.end),
    Buffer.from([0x80 | (index + 1)]),
    file.subarray(ipma.end),
  ]);
  const grow = (at, by) => out.writeUInt32BE(out.readUInt32BE(at) + by, at);
  grow(meta.at, 10);
  grow(iprp.at, 10);
  grow(ipco.at, 9);
  grow(ipma.at + 9, 1);
  out[ipma.at + 9 + 18] += 1; // the item's association count (after size, header, count, item id)
  grow(iloc.at + 20, 10); // base_offset of the one item
  return out;
}

/** A bottom-up BMP turned top-down: negative height, rows in reading order. */
function bmpTopDown(bmp) {
  const out = Buffer.from(bmp);
  const offset = out.readUInt32LE(10);
  const width = out.readInt32LE(18);
  const height = out.readInt32LE(22);
  const bpp = out.readUInt16LE(28);
  const stride = Math.ceil((width * bpp) / 32) * 4;
  for (let y = 0; y < height; y++) bmp.copy(out, offset + y * stride, offset + (height - 1 - y) * stride, offset + (height - y) * stride);
  out.writeInt32LE(-height, 22);
  return out;
}

/** A 4-bit BMP re-coded as BI_RLE4: encoded runs where pixels repeat, absolute runs elsewhere. */
function bmpRle4(bmp) {
  const offset = bmp.readUInt32LE(10);
  const width = bmp.readInt32LE(18);
  const height = bmp.readInt32LE(22);
  if (bmp.readUInt16LE(28) !== 4) throw new Error("not 4-bit");
  const stride = Math.ceil((width * 4) / 32) * 4;
  const rle = [];
  for (let y = 0; y < height; y++) {
    const row = bmp.subarray(offset + y * stride);
    const px = (x) => (x & 1 ? row[x >> 1] & 15 : row[x >> 1] >> 4);
    for (let x = 0; x < width; ) {
      let run = 1;
      while (x + run < width && run < 255 && px(x + run) === px(x)) run++;
      if (run >= 3 || width - x < 3) {
        rle.push(run, (px(x) << 4) | px(x));
        x += run;
        continue;
      }
      const count = Math.min(width - x, 64);
      rle.push(0, count);
      const packed = [];
      for (let i = 0; i < count; i += 2) packed.push((px(x + i) << 4) | (i + 1 < count ? px(x + i + 1) : 0));
      rle.push(...packed);
      if (packed.length & 1) rle.push(0);
      x += count;
    }
    rle.push(0, y === height - 1 ? 1 : 0);
  }
  const data = Buffer.from(rle);
  const out = Buffer.concat([bmp.subarray(0, offset), data]);
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(2, 30);
  out.writeUInt32LE(data.length, 34);
  return out;
}

const operations = { "png-zlib": pngZlib, "isobmff-garbage": isobmffGarbage, "jp2-tile-index": jp2TileIndex, "bmp-topdown": bmpTopDown, "heif-irot": heifIrot, "bmp-rle4": bmpRle4 };
if (!operations[what]) throw new Error(`unknown operation ${what}`);
writeFileSync(output, operations[what](bytes, ...rest));
