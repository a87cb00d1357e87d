/**
 * The decoder pool against files: the generated corpus compared with exiftool, the image fixtures,
 * broken files, and the limits. The decoder processes run compiled JS from packages/server/dist
 * (see workerEntry), so `npm run build` comes first, as `npm test` does.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDecoderPool,
  DEFAULT_THUMBNAIL,
  DecodeError,
  type DecodedImage,
  type DecoderProcessPool,
  type DecodeRequest,
  workerEntry,
} from "../src/media/decode/index.js";
import { decodeBmp } from "../src/media/decode/bmp-pixels.js";
import { orient } from "../src/media/decode/thumbnail.js";
import type { FixtureManifest } from "../../../test/helpers/fixtures.js";
import { type Compared, type ExifRecord, expectedFromExiftool, mimeOf, orientationOf } from "./decode-corpus.js";

const IMAGES = fileURLToPath(new URL("../../../test-fixtures/images/", import.meta.url));
const CORPUS = join(IMAGES, "decode-corpus");
const exiftool = JSON.parse(readFileSync(join(CORPUS, "exiftool.json"), "utf8")) as ExifRecord[];
const manifest = JSON.parse(readFileSync(join(IMAGES, "manifest.json"), "utf8")) as FixtureManifest;

function request(path: string, mimeType: string, orientation = 1, thumbnail = DEFAULT_THUMBNAIL): DecodeRequest {
  return { path, mimeType, orientation, thumbnail };
}

async function rejection(promise: Promise<unknown>): Promise<DecodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof DecodeError)) throw new Error(`expected a DecodeError, got ${String(error)}`);
  return error;
}

/**
 * The decoder processes run dist's compiled worker, not this source: a source file newer than its
 * build means the test would exercise old code. Stop with the fix instead.
 */
function assertBuilt(): void {
  const source = fileURLToPath(new URL("../src/media/decode/", import.meta.url));
  const built = dirname(workerEntry());
  // tsc -b leaves an unchanged output alone but stamps its build info: either counts as built.
  const info = fileURLToPath(new URL("../dist/.tsbuildinfo", import.meta.url));
  const stamp = existsSync(info) ? statSync(info).mtimeMs : 0;
  for (const file of readdirSync(source).filter((name) => name.endsWith(".ts"))) {
    const js = join(built, file.replace(/\.ts$/, ".js"));
    if (!existsSync(js) || Math.max(stamp, statSync(js).mtimeMs) < statSync(join(source, file)).mtimeMs) {
      throw new Error(`${js} is missing or older than its source: run npm run build first`);
    }
  }
}

let pool: DecoderProcessPool;
let scratch = "";
beforeAll(async () => {
  assertBuilt();
  pool = createDecoderPool({ concurrency: 2 });
  scratch = await mkdtemp(join(tmpdir(), "vi-decode-test-"));
});
afterAll(async () => {
  await pool.close();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * Where the decoders and exiftool differ, and why; every other field must agree. Keys are
 * "file field".
 */
const EXPECTED_DISAGREEMENTS: Record<string, string> = {
  // libvips' heifload converts every AV1 image to RGB: a 4:0:0 (grey) AVIF decodes to 3
  // channels, while its pixi property, which exiftool reports, lists 1.
  "avif-gray.avif channels": "libvips decodes monochrome AVIF to RGB",
};

/** Fields exiftool has no value for, per format (so nothing to compare): stated, not silently skipped. */
const NOT_IN_EXIFTOOL: Record<string, string> = {
  "image/webp frames, bitDepth, channels, hasAlpha":
    "its RIFF reader gives the canvas size only (and flags, not frames)",
  "image/avif, image/heic frames":
    "it reads the items' properties, not the samples of a sequence track nor the count of top-level images",
  "image/avif, image/heic channels with alpha": "it keeps the last pixi, the alpha item's",
  "image/x-j2c all but the size": "it reads no SIZ fields of a raw codestream",
  "image/gif channels": "GIF has no channel count in its header",
  "image/bmp bitDepth at 16 bpp": "it gives bits per pixel; the 5- and 6-bit masks are read by the decoder",
};

/** Known gaps of the decoders, each failing with EUNSUPPORTED and a message that says so. */
const UNREADABLE: Record<string, RegExp> = {
  // @cornerstonejs/codec-openjpeg's C++ converts 1 or 3 components only.
  "jp2-rgba.jp2": /4 components; the decoder .* reads 1 or 3/,
};

describe("decode corpus compared with exiftool", () => {
  const files = exiftool.map((record) => String(record.SourceFile));
  const results = new Map<string, DecodedImage>();

  beforeAll(async () => {
    await Promise.all(
      files
        .filter((file) => !UNREADABLE[file])
        .map(async (file) => {
          const record = exiftool.find((r) => r.SourceFile === file) ?? {};
          results.set(file, await pool.decode(request(join(CORPUS, file), mimeOf(file), orientationOf(record))));
        }),
    );
  }, 120_000);

  it("covers all nine formats with their odd variants", () => {
    const formats = new Set(files.map(mimeOf));
    expect([...formats].sort()).toEqual(
      [
        "image/avif",
        "image/bmp",
        "image/gif",
        "image/heic",
        "image/jp2",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "image/webp",
        "image/x-j2c",
      ].sort(),
    );
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  it("agrees with exiftool on every field it reports, except the listed disagreements", () => {
    const disagreements: Record<string, string> = {};
    let compared = 0;
    let agreeing = 0;
    for (const file of files) {
      if (UNREADABLE[file]) continue;
      const expected = expectedFromExiftool(file, exiftool.find((r) => r.SourceFile === file) ?? {});
      const decoded = results.get(file);
      expect(decoded, file).toBeDefined();
      for (const [name, value] of Object.entries(expected) as [keyof Compared, unknown][]) {
        if (value === undefined) continue;
        compared++;
        if (decoded?.[name] === value) agreeing++;
        else disagreements[`${file} ${name}`] = `decoded ${String(decoded?.[name])}, exiftool ${String(value)}`;
      }
    }
    console.log(
      `decode corpus: ${results.size} files decoded, ${compared} fields compared with exiftool, ${agreeing} agree; ` +
        `disagreements: ${JSON.stringify(disagreements)}; not in exiftool: ${Object.keys(NOT_IN_EXIFTOOL).join(", ")}`,
    );
    expect(Object.keys(disagreements).sort()).toEqual(Object.keys(EXPECTED_DISAGREEMENTS).sort());
    expect(agreeing).toBe(compared - Object.keys(EXPECTED_DISAGREEMENTS).length);
  });

  it("counts frames exiftool does not: WebP animation, AVIF sequence samples, HEIF collections", () => {
    expect(results.get("webp-animated.webp")?.frames).toBe(4);
    expect(results.get("avif-sequence.avif")?.frames).toBe(3);
    expect(results.get("heic-collection.heic")?.frames).toBe(2);
    expect(results.get("tiff-multipage.tif")?.frames).toBe(3);
  });

  it("names the decoder and its version", () => {
    expect(results.get("png-rgb8.png")?.decoder).toMatch(/^sharp 0\.35\.5 \/ libvips \d/);
    expect(results.get("heic-basic.heic")?.decoder).toMatch(/^libheif-js 1\.23\.2 \/ libheif \d/);
    expect(results.get("jp2-rgb8.jp2")?.decoder).toMatch(/codec-openjpeg 1\.3\.6/);
  });

  it.each(Object.entries(UNREADABLE))("%s fails with a message naming the gap", async (file, message) => {
    const error = await rejection(pool.decode(request(join(CORPUS, file), mimeOf(file))));
    expect(error.code).toBe("EUNSUPPORTED");
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
  });
});

/** Where the red block (top left in the source image) ends up in a thumbnail. */
async function redCorner(thumbnail: Buffer): Promise<string> {
  const { data, info } = await sharp(thumbnail).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let i = 0; i < data.length; i += 3) {
    if ((data[i] ?? 0) > 180 && (data[i + 1] ?? 255) < 90 && (data[i + 2] ?? 255) < 90) {
      const p = i / 3;
      sx += p % info.width;
      sy += Math.floor(p / info.width);
      n++;
    }
  }
  if (n === 0) return "none";
  return `${sy / n < info.height / 2 ? "top" : "bottom"}-${sx / n < info.width / 2 ? "left" : "right"}`;
}

describe("orientation, applied once", () => {
  it("orient() matches libvips' own EXIF autorotation for all eight values", async () => {
    const source = await sharp(join(CORPUS, "png-rgb8.png")).raw().toBuffer({ resolveWithObject: true });
    const raw = {
      raw: { width: source.info.width, height: source.info.height, channels: source.info.channels },
    } as const;
    for (let orientation = 1; orientation <= 8; orientation++) {
      const tagged = await sharp(source.data, raw).png().withMetadata({ orientation }).toBuffer();
      const expected = await sharp(tagged, { autoOrient: true }).raw().toBuffer({ resolveWithObject: true });
      const ours = await orient(sharp(source.data, raw), orientation).raw().toBuffer({ resolveWithObject: true });
      expect([ours.info.width, ours.info.height], `orientation ${orientation}`).toEqual([
        expected.info.width,
        expected.info.height,
      ]);
      expect(ours.data.equals(expected.data), `orientation ${orientation}`).toBe(true);
    }
  });

  it.each([
    ["jpeg-baseline.jpg", 1, "top-left"],
    ["jpeg-exif-3.jpg", 3, "bottom-right"],
    ["jpeg-exif-6.jpg", 6, "top-right"],
    ["jpeg-exif-8.jpg", 8, "bottom-left"],
    ["png-exif-6.png", 6, "top-right"],
    ["bmp-24.bmp", 6, "top-right"],
    ["jp2-rgb8.jp2", 3, "bottom-right"],
    // libheif (in libvips for AVIF, in libheif-js for HEIC) applies irot itself (90 degrees
    // anticlockwise): the probe's 8 must not turn it again.
    ["avif-irot.avif", 8, "bottom-left"],
    ["heic-irot.heic", 8, "bottom-left"],
  ])("%s with orientation %i shows the red block %s", async (file, orientation, corner) => {
    const image = await pool.decode(request(join(CORPUS, file), mimeOf(file), orientation));
    expect(await redCorner(image.thumbnail.bytes)).toBe(corner);
    const portrait = orientation >= 5;
    expect(image.thumbnail.height > image.thumbnail.width).toBe(portrait);
  });
});

describe("the image fixtures", () => {
  const valid = Object.entries(manifest.valid);

  it("has the 23 valid files", () => expect(valid).toHaveLength(23));

  it.each(valid)("%s decodes to its displayed size with a thumbnail of the same aspect", async (name, expected) => {
    const orientation = (expected as { orientation?: number }).orientation ?? 1;
    const image = await pool.decode(request(join(IMAGES, "valid", name), expected.mimeType, orientation));
    expect([image.width, image.height]).toEqual([expected.width, expected.height]);
    expect(image.frames).toBe(expected.frames);
    const { width, height, mimeType, bytes } = image.thumbnail;
    expect(Math.max(width, height)).toBeLessThanOrEqual(256);
    expect(mimeType).toBe("image/webp");
    // The longer side scales to min(256, itself); the other follows within rounding.
    const scale = Math.min(1, 256 / Math.max(expected.width, expected.height));
    expect(Math.abs(width - expected.width * scale)).toBeLessThanOrEqual(1);
    expect(Math.abs(height - expected.height * scale)).toBeLessThanOrEqual(1);
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["webp", width, height]);
  });

  it("makes JPEG thumbnails flattened on white, and never upscales", async () => {
    const image = await pool.decode(
      request(join(CORPUS, "heic-alpha.heic"), "image/heic", 1, { maxSide: 1000, format: "jpeg", quality: 70 }),
    );
    const meta = await sharp(image.thumbnail.bytes).metadata();
    expect([meta.format, meta.channels, meta.width, meta.height]).toEqual(["jpeg", 3, 160, 120]);
  });
});

describe("files that do not decode", () => {
  // Made by make.sh. Noise inside HEVC slice data or JPEG 2000 code-blocks is not among them:
  // libde265 conceals it and OpenJPEG decodes it, both by design, to wrong pixels and no error.
  // The HEIC's noise starts at the NAL unit header, the JP2's fault is an impossible tile index.
  it.each([
    ["png-zlib.png", "image/png", /^PNG: IDAT zlib stream is corrupt/],
    ["jpeg-truncated.jpg", "image/jpeg", /^JPEG: premature end of JPEG/],
    ["heic-garbage.heic", "image/heic", /^HEIF: .*did not give a decompressed image/],
    ["avif-garbage.avif", "image/avif", /^AVIF: .*Corrupt frame/],
    ["jp2-tile-index.jp2", "image/jp2", /^JPEG 2000: Invalid tile number 200/],
  ])("broken/%s rejects EDECODE", async (file, mimeType, message) => {
    const error = await rejection(pool.decode(request(join(CORPUS, "broken", file), mimeType)));
    expect(error.code).toBe("EDECODE");
    expect(error.message).toMatch(message);
    expect(error.retryable).toBe(false);
  });

  it("a BMP whose header is impossible rejects EDECODE before reading pixels", async () => {
    const bmp = Buffer.from(readFileSync(join(CORPUS, "bmp-8.bmp")));
    bmp.writeUInt32LE(4096, 46); // 4096 palette entries at 8 bits per pixel
    const path = join(scratch, "palette.bmp");
    await writeFile(path, bmp);
    const error = await rejection(pool.decode(request(path, "image/bmp")));
    expect([error.code, error.message]).toEqual(["EDECODE", "BMP: a palette of 4096 colours at 8 bits per pixel"]);
  });

  it("a mime type no decoder reads rejects EDECODE", async () => {
    const error = await rejection(pool.decode(request(join(CORPUS, "png-rgb8.png"), "image/svg+xml")));
    expect(error.code).toBe("EDECODE");
  });
});

describe("limits", () => {
  it("a decompression bomb over maxPixels rejects ELIMIT from its header, without allocating", async () => {
    // 900 megapixels would need 900 MB at least; the memory limit is far lower, so only the header check can answer.
    const small = createDecoderPool({ limits: { maxRssBytes: 400 * 1024 ** 2 } });
    try {
      const started = Date.now();
      const error = await rejection(
        small.decode(request(join(IMAGES, "hostile", "bomb-30000x30000.png"), "image/png")),
      );
      expect(error.code).toBe("ELIMIT");
      expect(error.message).toMatch(/pixel limit/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await small.close();
    }
  });

  it.each([
    ["heic-basic.heic", "image/heic", /^HEIF: 160x120 is 19200 pixels, over the limit of 10000$/],
    ["jp2-rgb8.jp2", "image/jp2", /^JPEG 2000: 160x120 /],
    ["bmp-24.bmp", "image/bmp", /^BMP: 160x120 /],
    ["avif-8bit.avif", "image/avif", /^AVIF: over the pixel limit/],
  ])("the wasm and own decoders check the pixel limit on the header too: %s", async (file, mimeType, message) => {
    const tight = createDecoderPool({ limits: { maxPixels: 10_000 } });
    try {
      const error = await rejection(tight.decode(request(join(CORPUS, file), mimeType)));
      expect(error.code).toBe("ELIMIT");
      expect(error.message).toMatch(message);
    } finally {
      await tight.close();
    }
  });

  /** A square PNG of gaussian noise: it compresses badly and decodes slowly. */
  async function noisePng(name: string, side: number): Promise<string> {
    const path = join(scratch, name);
    await sharp({
      create: {
        width: side,
        height: side,
        channels: 3,
        background: "#808080",
        noise: { type: "gaussian", mean: 128, sigma: 60 },
      },
    })
      .png({ compressionLevel: 1 })
      .toFile(path);
    return path;
  }

  let big = "";
  beforeAll(async () => {
    // ~0.5 s of decoding at 3000x3000.
    big = await noisePng("noise.png", 3000);
  });

  it("a decode over timeoutMs rejects ETIMEOUT and the pool works after", async () => {
    // 25 megapixels of noise take over a second to decode here (still well over the limit on a
    // machine several times faster); a 160 px GIF takes a few ms, and stays under 250 ms on a
    // loaded machine, where a 25 ms limit failed it five times running (beside a CI run).
    const huge = await noisePng("noise-huge.png", 5000);
    const quick = createDecoderPool({ limits: { timeoutMs: 250 } });
    try {
      const error = await rejection(quick.decode(request(huge, "image/png")));
      expect(error.code).toBe("ETIMEOUT");
      expect(error.retryable).toBe(true);
      // The replacement process decodes a small file; it gets a few tries all the same: one
      // success shows the pool recovered.
      let image: DecodedImage | undefined;
      for (let i = 0; i < 5 && !image; i++)
        image = await quick.decode(request(join(CORPUS, "gif-static.gif"), "image/gif")).catch((e: unknown) => {
          if (e instanceof DecodeError && e.code === "ETIMEOUT") return undefined;
          throw e;
        });
      expect(image?.width).toBe(160);
    } finally {
      await quick.close();
    }
  });

  it("a decoder process killed mid-decode rejects ECRASH and the next decode works", async () => {
    const own = createDecoderPool();
    try {
      const decoding = rejection(own.decode(request(big, "image/png")));
      let busy: number | undefined;
      while (busy === undefined) {
        await new Promise((r) => setTimeout(r, 20));
        busy = own.processes().find((p) => p.busy)?.pid;
      }
      await new Promise((r) => setTimeout(r, 100));
      process.kill(busy, "SIGKILL");
      const error = await decoding;
      expect(error.code).toBe("ECRASH");
      expect(error.message).toMatch(/killed by SIGKILL/);
      const image = await own.decode(request(join(CORPUS, "png-rgb8.png"), "image/png"));
      expect(image.width).toBe(160);
      expect(own.processes().map((p) => p.pid)).not.toContain(busy);
    } finally {
      await own.close();
    }
  });

  it("over maxRssBytes the process is killed and the decode rejects ELIMIT", async () => {
    // Node alone is ~50 MB resident: a 60 MB limit trips on a 3000x3000 decode.
    const lean = createDecoderPool({ limits: { maxRssBytes: 60 * 1024 ** 2 } });
    try {
      const error = await rejection(lean.decode(request(big, "image/png")));
      expect(error.code).toBe("ELIMIT");
      expect(error.message).toMatch(/over the 60 MiB limit/);
    } finally {
      await lean.close();
    }
  });

  it("runs at most `concurrency` decodes, in as many processes", async () => {
    const two = createDecoderPool({ concurrency: 2 });
    let most = 0;
    let mostBusy = 0;
    const sampler = setInterval(() => {
      const now = two.processes();
      most = Math.max(most, now.length);
      mostBusy = Math.max(mostBusy, now.filter((p) => p.busy).length);
    }, 5);
    try {
      const files = [
        "jpeg-baseline.jpg",
        "png-rgb8.png",
        "tiff-rgb16.tif",
        "gif-animated.gif",
        "webp-lossy.webp",
        "avif-8bit.avif",
      ];
      await Promise.all(files.map((file) => two.decode(request(join(CORPUS, file), mimeOf(file)))));
      await two.decode(request(big, "image/png"));
    } finally {
      clearInterval(sampler);
      await two.close();
    }
    expect(most).toBe(2);
    expect(mostBusy).toBe(2);
  });

  it("an AbortSignal cancels a waiting decode and a running one", async () => {
    const one = createDecoderPool({ concurrency: 1 });
    try {
      const running = new AbortController();
      const waiting = new AbortController();
      const first = one.decode(request(big, "image/png"), running.signal);
      const second = one.decode(request(big, "image/png"), waiting.signal);
      waiting.abort(new Error("not needed"));
      await expect(second).rejects.toThrow("not needed");
      await new Promise((r) => setTimeout(r, 100));
      running.abort(new Error("stop"));
      await expect(first).rejects.toThrow("stop");
      const image = await one.decode(request(join(CORPUS, "png-rgb8.png"), "image/png"));
      expect(image.height).toBe(120);
    } finally {
      await one.close();
    }
  });

  it("close() rejects what is pending with ECRASH and refuses more", async () => {
    const closing = createDecoderPool();
    const pending = rejection(closing.decode(request(big, "image/png")));
    await new Promise((r) => setTimeout(r, 50));
    await closing.close();
    expect((await pending).code).toBe("ECRASH");
    expect((await rejection(closing.decode(request(big, "image/png")))).code).toBe("ECRASH");
  });
});

describe("the BMP decoder", () => {
  const pixels = (file: string): Buffer => decodeBmp(readFileSync(join(CORPUS, file)), { maxPixels: 1e8 }).rgba;

  it("reads every layout of the same picture to the same pixels", async () => {
    const png = await sharp(join(CORPUS, "png-rgb8.png")).ensureAlpha().raw().toBuffer();
    expect(pixels("bmp-24.bmp").equals(png)).toBe(true);
    expect(pixels("bmp-topdown.bmp").equals(png)).toBe(true);
    expect(pixels("bmp-rle8.bmp").equals(pixels("bmp-8.bmp"))).toBe(true);
    expect(pixels("bmp-rle4.bmp").equals(pixels("bmp-4.bmp"))).toBe(true);
    // 5 or 6 bits a sample: within one step of the 8-bit source.
    for (const file of ["bmp-565.bmp", "bmp-555.bmp"]) {
      const ours = pixels(file);
      const worst = Math.max(...ours.map((v, i) => Math.abs(v - (png[i] ?? 0))));
      expect(worst, file).toBeLessThanOrEqual(8);
    }
  });

  it("refuses RLE data that runs outside the image", () => {
    const bmp = Buffer.from(readFileSync(join(CORPUS, "bmp-rle8.bmp")));
    const offset = bmp.readUInt32LE(10);
    bmp[offset] = 255; // a run of 255 pixels in a 160-pixel row
    bmp[offset + 2] = 255;
    expect(() => decodeBmp(bmp, { maxPixels: 1e8 })).toThrow(/RLE run writes outside/);
    expect(() => decodeBmp(bmp.subarray(0, offset + 10), { maxPixels: 1e8 })).toThrow(/RLE/);
  });
});
