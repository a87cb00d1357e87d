#!/usr/bin/env node
// Regenerates the header-probe case files of issue 9 in this folder and their manifest.json.
// Needs Debian's imagemagick, libavif-bin, libheif-examples, libopenjp2-tools and libimage-exiftool-perl;
// the broken cases are real encoder output with a few bytes changed here, each change described in the manifest.
// Usage (from anywhere): node test-fixtures/images/probe-cases/make.mjs
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";

const OUT = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "vi-probe-cases-"));
const cases = {};

const run = (command, ...args) => {
  try {
    return execFileSync(command, args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw new Error(`${command} ${args.join(" ")} failed: ${error.stderr}`);
  }
};
const tmp = (name) => join(work, name);
const read = (name) => Buffer.from(readFileSync(tmp(name)));
/** ImageMagick without the time-stamp chunks and comments that would make every run differ. */
const magick = (...args) => run("convert", ...args.slice(0, -1), "-strip", "-define", "png:exclude-chunks=date,time", args.at(-1));

function emit(name, bytes, description, expected) {
  writeFileSync(join(OUT, name), bytes);
  cases[name] = { description, ...expected };
}
const accept = (mimeType, width, height, extra = {}) => ({
  expect: { mimeType, width, height, frames: 1, orientation: 1, ...extra },
});
const refuse = (code, reason) => ({ error: { code, reason } });

// ---- JPEG: bytes after the end-of-image marker ----
magick("-size", "96x64", "gradient:orange-navy", "-quality", "80", "base.jpg");
magick("-size", "96x64", "plasma:fractal", "-seed", "7", "-interlace", "JPEG", "-quality", "70", "progressive.jpg");
const jpeg = read("base.jpg");
const progressive = read("progressive.jpg");
// A Samsung-style trailer: tagged records after EOI, ending with the "SEFT" directory magic.
const samsung = Buffer.concat([
  Buffer.from("\0\0\x01\x0aMotionPhoto_Data", "latin1"),
  Buffer.alloc(64, 0x5a),
  Buffer.from("SEFH\x6b\0\0\0\x01\0\0\0SEFT", "latin1"),
]);
emit("jpeg-trailer-camera.jpg", Buffer.concat([jpeg, samsung]), "baseline JPEG with a camera trailer after EOI", accept("image/jpeg", 96, 64));
// A "motion photo": an MP4 (here a minimal ftyp/free/mdat) appended after EOI.
const box = (type, payload) => {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.length);
  header.write(type, 4, "latin1");
  return Buffer.concat([header, payload]);
};
const mp4 = Buffer.concat([
  box("ftyp", Buffer.from("mp42\0\0\0\0isommp42", "latin1")),
  box("free", Buffer.alloc(0)),
  box("mdat", Buffer.from([0xff, 0xd9, 0xff, 0xd8, ...Buffer.alloc(200, 0x33)])),
]);
emit("jpeg-motion-photo.jpg", Buffer.concat([jpeg, mp4]), "baseline JPEG with an MP4 appended after EOI (motion photo)", accept("image/jpeg", 96, 64));
emit(
  "jpeg-progressive-trailer.jpg",
  Buffer.concat([progressive, Buffer.from("editor trailer: not zero padding", "latin1")]),
  "progressive JPEG (several scans with DHT between them) with text after EOI",
  accept("image/jpeg", 96, 64),
);
emit(
  "jpeg-cut-with-trailer.jpg",
  Buffer.concat([jpeg.subarray(0, jpeg.length - 200), samsung]),
  "baseline JPEG cut 200 bytes before its end, with a trailer appended: no EOI anywhere",
  refuse("ECORRUPT", "without the end-of-image marker FFD9"),
);

// ---- AVIF and HEIF image sequences ----
for (let i = 0; i < 5; i++) magick("-size", "48x32", `xc:rgb(${i * 50},100,150)`, "-alpha", "set", "-channel", "A", "-evaluate", "set", "80%", `f${i}.png`);
run("avifenc", "-s", "10", "--min", "30", "--max", "40", "f0.png", "f1.png", "f2.png", "f3.png", "f4.png", "seq.avif");
emit("avif-sequence.avif", read("seq.avif"), "avifenc 'avis' sequence of 5 frames with an alpha track ('auxl')", accept("image/avif", 48, 32, { frames: 5 }));
run("avifenc", "-s", "10", "--min", "30", "--max", "40", "f0.png", "f1.png", "f2.png", "seq2.avif");
emit("avif-sequence-3.avif", read("seq2.avif"), "avifenc 'avis' sequence of 3 frames", accept("image/avif", 48, 32, { frames: 3 }));

// libheif 1.15's heif-enc writes no sequences: its still image gets an image-sequence track appended
// ('moov' with a 'pict' trak whose stbl has only 'stts' runs of 2 + 2 + 3 samples), as msf1 writers lay it out.
magick("-size", "64x48", "gradient:teal-yellow", "still.png");
run("heif-enc", "-q", "40", "still.png", "-o", "still.heic");
const fullBox = (type, version, payload) => box(type, Buffer.concat([Buffer.from([version, 0, 0, 0]), payload]));
const u32 = (...values) => Buffer.concat(values.map((value) => { const b = Buffer.alloc(4); b.writeUInt32BE(value); return b; }));
const hdlr = (handler) => fullBox("hdlr", 0, Buffer.concat([u32(0), Buffer.from(handler, "latin1"), u32(0, 0, 0), Buffer.from([0])]));
const pictTrack = box(
  "trak",
  Buffer.concat([
    fullBox("tkhd", 0, Buffer.concat([u32(0, 0, 1, 0, 0), Buffer.alloc(52), u32(64 << 16, 48 << 16)])),
    box(
      "mdia",
      Buffer.concat([
        fullBox("mdhd", 0, Buffer.concat([u32(0, 0, 30, 7), Buffer.from([0x55, 0xc4, 0, 0])])),
        hdlr("pict"),
        box("minf", box("stbl", Buffer.concat([fullBox("stsd", 0, u32(0)), fullBox("stts", 0, u32(3, 2, 1, 2, 1, 3, 1))]))),
      ]),
    ),
  ]),
);
const moov = box("moov", Buffer.concat([fullBox("mvhd", 0, Buffer.concat([u32(0, 0, 30, 7, 0x10000), Buffer.alloc(76)])), pictTrack]));
emit(
  "heif-sequence.heic",
  Buffer.concat([read("still.heic"), moov]),
  "heif-enc still image with a 'pict' sequence track of 7 samples appended (stts only, no stsz)",
  accept("image/heic", 64, 48, { frames: 7 }),
);

// ---- PNG eXIf orientation, and chunk CRCs ----
magick("-size", "60x40", "gradient:red-blue", "-depth", "8", "plain.png");
run("exiftool", "-q", "-n", "-Orientation=6", "-o", "exif6.png", "plain.png");
emit("png-exif-before-idat.png", read("exif6.png"), "PNG with an eXIf chunk (Orientation 6, written by exiftool) before IDAT", accept("image/png", 40, 60, { orientation: 6 }));
const chunks = (bytes) => {
  const list = [];
  for (let at = 8; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    list.push({ type: bytes.toString("latin1", at + 4, at + 8), bytes: bytes.subarray(at, at + 12 + length) });
    at += 12 + length;
  }
  return list;
};
const chunk = (type, data) => {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  return Buffer.concat([u32(data.length), body, u32(crc32(body))]);
};
const pngOf = (list) => Buffer.concat([read("plain.png").subarray(0, 8), ...list.map((c) => c.bytes)]);
{
  // Orientation 8 in big-endian EXIF, placed between the last IDAT and IEND.
  const tiff = Buffer.concat([Buffer.from("MM\0\x2a", "latin1"), u32(8), Buffer.from([0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0]), u32(0)]);
  const list = chunks(read("plain.png"));
  list.splice(list.length - 1, 0, { type: "eXIf", bytes: chunk("eXIf", tiff) });
  emit("png-exif-after-idat.png", pngOf(list), "PNG with an eXIf chunk (Orientation 8) after IDAT, before IEND", accept("image/png", 40, 60, { orientation: 8 }));
}
const withBadCrc = (type, extra = []) => {
  const list = chunks(read("plain.png"));
  list.splice(1, 0, ...extra);
  const target = list.find((c) => c.type === type);
  target.bytes = Buffer.from(target.bytes);
  target.bytes[target.bytes.length - 1] ^= 0x01;
  return pngOf(list);
};
emit("png-bad-crc-idat.png", withBadCrc("IDAT"), "PNG whose IDAT CRC has one bit flipped", refuse("ECORRUPT", "chunk IDAT at offset"));
emit("png-bad-crc-ihdr.png", withBadCrc("IHDR"), "PNG whose IHDR CRC has one bit flipped", refuse("ECORRUPT", "chunk IHDR at offset 8 fails its CRC"));
emit(
  "png-bad-crc-text.png",
  withBadCrc("tEXt", [{ type: "tEXt", bytes: chunk("tEXt", Buffer.from("Comment\0made by make.mjs", "latin1")) }]),
  "PNG whose ancillary tEXt chunk has a bad CRC",
  refuse("ECORRUPT", "chunk tEXt at offset"),
);
{
  // A bit flipped in the middle of the compressed data: the CRC catches what only inflating would otherwise find.
  const list = chunks(read("plain.png"));
  const idat = list.find((c) => c.type === "IDAT");
  idat.bytes = Buffer.from(idat.bytes);
  idat.bytes[Math.floor(idat.bytes.length / 2)] ^= 0x10;
  emit("png-damaged-idat.png", pngOf(list), "PNG with one bit flipped inside its IDAT data", refuse("ECORRUPT", "chunk IDAT at offset"));
}

// ---- AVIF and HEIC without a handler in 'meta' ----
const renameFirst = (bytes, from, to) => {
  const copy = Buffer.from(bytes);
  copy.write(to, copy.indexOf(Buffer.from(from, "latin1")), "latin1");
  return copy;
};
run("avifenc", "-s", "10", "--min", "30", "--max", "40", "f0.png", "still.avif");
emit("avif-no-hdlr.avif", renameFirst(read("still.avif"), "hdlr", "free"), "avifenc still image whose 'meta' handler box is renamed 'free'", refuse("ECORRUPT", "no handler ('hdlr' box)"));
emit("heic-no-hdlr.heic", renameFirst(read("still.heic"), "hdlr", "free"), "heif-enc still image whose 'meta' handler box is renamed 'free'", refuse("ECORRUPT", "no handler ('hdlr' box)"));

// ---- JPEG 2000 ----
magick("-size", "64x64", "gradient:green-white", "j2k.ppm");
run("opj_compress", "-i", "j2k.ppm", "-o", "tiled.j2k", "-t", "32,32", "-r", "20");
run("opj_compress", "-i", "j2k.ppm", "-o", "tiled.jp2", "-t", "32,32", "-r", "20");
run("opj_compress", "-i", "j2k.ppm", "-o", "parts.j2k", "-t", "32,32", "-r", "20", "-TP", "R", "-n", "3");
/** The tile-parts of a codestream starting at `start`: offsets of their SOT markers. */
const tileParts = (bytes, start) => {
  const offsets = [];
  let at = bytes.indexOf(Buffer.from([0xff, 0x90]), start);
  while (bytes.readUInt16BE(at) === 0xff90) {
    offsets.push(at);
    at += bytes.readUInt32BE(at + 6);
  }
  return offsets;
};
const tiled = read("tiled.j2k");
const parts = tileParts(tiled, 0);
{
  const bytes = Buffer.from(tiled);
  bytes.writeUInt16BE(7, parts[2] + 4);
  emit("j2k-tile-index.j2k", bytes, "4-tile codestream whose third tile-part says Isot 7", refuse("ECORRUPT", "is for tile 7, but SIZ declares 4 tiles"));
}
{
  const bytes = Buffer.from(tiled);
  bytes.writeUInt16BE(0, parts[1] + 4);
  emit("j2k-tile-part-repeated.j2k", bytes, "4-tile codestream whose second tile-part repeats tile 0's part 0", refuse("ECORRUPT", "tile-parts repeat or are out of order"));
}
{
  const bytes = Buffer.from(tiled);
  bytes.writeUInt32BE(bytes.readUInt32BE(parts[3] + 6) + 500, parts[3] + 6);
  emit("j2k-psot-past-end.j2k", bytes, "4-tile codestream whose last Psot runs 500 bytes past the end", refuse("ECORRUPT", "declares"));
}
{
  const bytes = Buffer.from(tiled);
  bytes.writeUInt32BE(13, parts[0] + 6);
  emit("j2k-psot-13.j2k", bytes, "4-tile codestream whose first Psot is 13, too short for SOT and SOD", refuse("ECORRUPT", "declares a length of 13"));
}
{
  // With PLT segments in each tile-part header, a Psot of 14 ends inside that header: the next tile-part would overlap it.
  run("opj_compress", "-i", "j2k.ppm", "-o", "plt.j2k", "-t", "32,32", "-r", "20", "-PLT");
  const bytes = read("plt.j2k");
  bytes.writeUInt32BE(14, tileParts(bytes, 0)[0] + 6);
  emit("j2k-psot-overlap.j2k", bytes, "4-tile codestream with PLT whose first Psot (14) ends inside its tile-part header", refuse("ECORRUPT", "tile-parts overlap"));
}
{
  const bytes = Buffer.from(tiled);
  bytes.writeUInt32BE(bytes.readUInt32BE(parts[0] + 6) - 40, parts[0] + 6);
  emit("j2k-psot-short.j2k", bytes, "4-tile codestream whose first Psot is 40 bytes short: the next hop lands in coded data", refuse("ECORRUPT", "expected a tile-part (SOT)"));
}
// OpenJPEG decodes a codestream whose last two bytes are not EOC (warning "Stream does not end with EOC"),
// but not one that stops right after its last tile-part ("Stream too short"): the probe does the same.
const withoutEoc = (bytes, stand) => Buffer.concat([bytes.subarray(0, bytes.length - 2), Buffer.from(stand)]);
emit("j2k-eoc-zeroed.j2k", withoutEoc(tiled, [0, 0]), "4-tile codestream whose final EOC bytes are zeroed, tile-parts complete", accept("image/x-j2c", 64, 64));
emit("j2k-eoc-damaged.j2k", withoutEoc(tiled, [0xff, 0xd8]), "4-tile codestream with FFD8 where its final EOC should be, tile-parts complete", accept("image/x-j2c", 64, 64));
emit(
  "j2k-no-eoc.j2k",
  tiled.subarray(0, tiled.length - 2),
  "4-tile codestream that stops right after its last tile-part, without EOC (OpenJPEG: Stream too short)",
  refuse("ECORRUPT", "after its last tile-part, without the end-of-codestream marker"),
);
emit(
  "j2k-no-eoc-missing-tile.j2k",
  Buffer.concat([tiled.subarray(0, parts[3]), Buffer.from([0, 0])]),
  "4-tile codestream cut before its last tile-part, two zero bytes in place of EOC: tile 3 is missing",
  refuse("ECORRUPT", "tile 3 has no tile-part"),
);
{
  const split = read("parts.j2k");
  const offsets = tileParts(split, 0);
  emit(
    "j2k-no-eoc-missing-part.j2k",
    Buffer.concat([split.subarray(0, offsets.at(-1)), Buffer.from([0, 0])]),
    `codestream of 4 tiles in ${offsets.length} tile-parts (TNsot set) cut before the last one, two zero bytes in place of EOC`,
    refuse("ECORRUPT", "of its 3 tile-parts"),
  );
}
const jp2 = read("tiled.jp2");
const jp2c = jp2.indexOf(Buffer.from("jp2c", "latin1")) - 4;
{
  const bytes = Buffer.from(jp2);
  bytes.writeUInt32BE(bytes.readUInt32BE(jp2c) + 4096, jp2c);
  emit("jp2-box-overrun.jp2", bytes, "JP2 whose 'jp2c' box length runs 4096 bytes past the end; the codestream is complete", accept("image/jp2", 64, 64));
}
emit("jp2-eoc-damaged.jp2", withoutEoc(jp2, [0xff, 0xff]), "JP2 whose codestream has FFFF where its final EOC should be", accept("image/jp2", 64, 64));
{
  const bytes = Buffer.from(jp2.subarray(0, jp2.length - 2));
  bytes.writeUInt32BE(bytes.readUInt32BE(jp2c) - 2, jp2c);
  emit(
    "jp2-no-eoc.jp2",
    bytes,
    "JP2 whose codestream stops right after its last tile-part, the 'jp2c' length matching (OpenJPEG: Stream too short)",
    refuse("ECORRUPT", "after its last tile-part, without the end-of-codestream marker"),
  );
}
{
  const bytes = Buffer.from(jp2);
  bytes.writeUInt16BE(9, tileParts(jp2, jp2c)[1] + 4);
  emit("jp2-tile-index.jp2", bytes, "JP2 whose second tile-part says Isot 9 of 4 tiles", refuse("ECORRUPT", "is for tile 9, but SIZ declares 4 tiles"));
}

// ---- BMP header fields ----
magick("-size", "40x30", "gradient:white-black", "-colors", "16", "-type", "Palette", "BMP3:pal8.bmp");
const bmp = read("pal8.bmp");
const bmpInfo = { bits: bmp.readUInt16LE(28), colours: bmp.readUInt32LE(46), offset: bmp.readUInt32LE(10) };
emit("bmp-palette-16.bmp", bmp, `BMP3 of ${bmpInfo.bits} bits per pixel with a ${bmpInfo.colours}-colour palette (clrUsed set)`, accept("image/bmp", 40, 30));
const patched = (edit) => {
  const bytes = Buffer.from(bmp);
  edit(bytes);
  return bytes;
};
emit(
  "bmp-palette-too-many.bmp",
  patched((b) => b.writeUInt32LE(2 ** bmpInfo.bits + 1, 46)),
  `clrUsed set to 2^${bmpInfo.bits} + 1`,
  refuse("ECORRUPT", "more than"),
);
emit(
  "bmp-palette-past-pixels.bmp",
  patched((b) => b.writeUInt32LE(54 + 8 * 4, 10)),
  `bfOffBits moved back 8 entries, into the ${bmpInfo.colours}-colour palette that clrUsed declares`,
  refuse("ECORRUPT", "past the start of the pixel data"),
);
emit("bmp-offset-past-end.bmp", patched((b) => b.writeUInt32LE(b.length + 100, 10)), "bfOffBits 100 bytes past the end of the file", refuse("ECORRUPT", "lies past the end of the file"));
emit("bmp-planes-0.bmp", patched((b) => b.writeUInt16LE(0, 26)), "biPlanes 0", refuse("ECORRUPT", "0 colour planes"));
emit(
  "bmp-header-size-66.bmp",
  patched((b) => b.writeUInt32LE(66, 14)),
  "DIB header size 66, which no header has: the sniffer takes 'BM' for a bitmap only with a known size",
  refuse("EBADMIME", "unrecognised file signature"),
);
emit(
  "bmp-rle4-at-8-bits.bmp",
  patched((b) => {
    b.writeUInt16LE(8, 28);
    b.writeUInt32LE(2, 30);
    b.writeUInt32LE(64, 34);
  }),
  "8 bits per pixel with compression 2 (BI_RLE4, 4-bit only)",
  refuse("ECORRUPT", "compression method 2 cannot hold 8 bits per pixel"),
);

writeFileSync(
  join(OUT, "manifest.json"),
  JSON.stringify(
    {
      about:
        "Header probe cases of issue 9, made by make.mjs (encoder output, some with bytes changed as described). " +
        "'expect' is what the probe must report (width/height displayed, orientation applied); " +
        "'error' the MediaError code it must refuse with and a substring of its reason.",
      cases,
    },
    null,
    2,
  ) + "\n",
);
rmSync(work, { recursive: true, force: true });
console.log(`${Object.keys(cases).length} cases written to ${OUT}`);
