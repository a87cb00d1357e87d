#!/usr/bin/env node
// Benchmark: decode + thumbnail of one large image of each format through the decoder pool (one
// decoder process, default limits), next to sharp decoding the same JPEG in this process.
//
//   node bench/decode-formats.mjs [width=4000] [height=3000]
//
// The images are made once into .bench-tmp/decode-formats/ with sharp, and with Debian's heif-enc
// and opj_compress for HEIC and JPEG 2000 (formats sharp cannot write). BMP is written here.
import { execFileSync } from "node:child_process";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { createDecoderPool, DEFAULT_THUMBNAIL } from "../packages/server/dist/media/decode/index.js";
import { TMP } from "./lib.mjs";

const width = Number(process.argv[2] ?? 4000);
const height = Number(process.argv[3] ?? 3000);
const dir = join(TMP, "decode-formats");
await mkdir(dir, { recursive: true });

/** A photo-like picture: smooth gradients, shapes and mild noise (pure noise would be a worst case). */
function picture() {
  const rgb = Buffer.alloc(width * height * 3);
  let seed = 7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const noise = (seed >>> 24) / 32 - 4;
      const at = (y * width + x) * 3;
      const ring = Math.sin(Math.hypot(x - width / 3, y - height / 2) / 40) * 40;
      rgb[at] = Math.max(0, Math.min(255, (x / width) * 200 + ring + noise + 20));
      rgb[at + 1] = Math.max(0, Math.min(255, (y / height) * 180 + noise + 30));
      rgb[at + 2] = Math.max(0, Math.min(255, 128 + ring + noise));
    }
  }
  return rgb;
}

function bmp24(rgb) {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write("BM", 0, "latin1");
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      out[row + x * 3] = rgb[from + 2];
      out[row + x * 3 + 1] = rgb[from + 1];
      out[row + x * 3 + 2] = rgb[from];
    }
  }
  return out;
}

const exists = async (path) => (await stat(path).catch(() => undefined)) !== undefined;
const name = (ext) => join(dir, `${width}x${height}.${ext}`);
const formats = [
  ["jpg", "image/jpeg", (s) => s.jpeg({ quality: 90 })],
  ["png", "image/png", (s) => s.png()],
  ["webp", "image/webp", (s) => s.webp({ quality: 80 })],
  ["gif", "image/gif", (s) => s.gif()],
  ["tif", "image/tiff", (s) => s.tiff({ compression: "lzw" })],
  ["avif", "image/avif", (s) => s.avif({ quality: 60, effort: 2 })],
  ["heic", "image/heic"],
  ["jp2", "image/jp2"],
  ["bmp", "image/bmp"],
];

if (!(await Promise.all(formats.map(([ext]) => exists(name(ext))))).every(Boolean)) {
  console.log(`making ${width}x${height} images in ${dir} ...`);
  const rgb = picture();
  const raw = { raw: { width, height, channels: 3 } };
  for (const [ext, , encode] of formats) if (encode) await encode(sharp(rgb, raw)).toFile(name(ext));
  await writeFile(name("bmp"), bmp24(rgb));
  await sharp(rgb, raw).png({ compressionLevel: 1 }).toFile(join(dir, "source.png"));
  execFileSync("heif-enc", ["-q", "70", join(dir, "source.png"), "-o", name("heic")], { stdio: "ignore" });
  execFileSync("opj_compress", ["-i", join(dir, "source.png"), "-o", name("jp2"), "-r", "20"], { stdio: "ignore" });
}

const pool = createDecoderPool({ concurrency: 1 });
const decode = (ext, mimeType) =>
  pool.decode({ path: name(ext), mimeType, orientation: 1, thumbnail: DEFAULT_THUMBNAIL });
await decode("png", "image/png"); // starts the decoder process: not part of any figure

console.log(
  `decode + ${DEFAULT_THUMBNAIL.maxSide}px ${DEFAULT_THUMBNAIL.format} thumbnail, ${width}x${height}, one decoder process`,
);
console.log("format  size MB   ms  decoder");
for (const [ext, mimeType] of formats) {
  const started = performance.now();
  const image = await decode(ext, mimeType);
  const ms = performance.now() - started;
  const mb = ((await stat(name(ext))).size / 1e6).toFixed(1);
  console.log(`${ext.padEnd(6)} ${mb.padStart(8)} ${ms.toFixed(0).padStart(5)}  ${image.decoder}`);
}
await pool.close();

// Baseline: sharp's own thumbnail of the JPEG in this process (shrink-on-load, no full decode).
const started = performance.now();
await sharp(name("jpg")).resize(256, 256, { fit: "inside" }).webp().toBuffer();
console.log(
  `baseline: sharp thumbnail of the JPEG in-process, no full decode: ${(performance.now() - started).toFixed(0)} ms`,
);
