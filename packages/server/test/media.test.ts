import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ImageInfo,
  MediaError,
  type MediaErrorCode,
  probeImageFile,
  SUPPORTED_EXTENSIONS,
} from "../src/media/index.js";
import { INTERNAL_FAULT_NOTE } from "../src/media/probe.js";
import type { ExpectedImage, FixtureManifest } from "../../../test/helpers/fixtures.js";

const FIXTURES = fileURLToPath(new URL("../../../test-fixtures/images/", import.meta.url));

type Expected = ExpectedImage;
type Manifest = FixtureManifest;

const manifest = JSON.parse(await readFile(join(FIXTURES, "manifest.json"), "utf8")) as Manifest;
const accepted: [string, string, Expected][] = [
  ...Object.entries(manifest.valid).map(([name, expected]): [string, string, Expected] => ["valid", name, expected]),
  ...Object.entries(manifest.mislabelled).map(([name, expected]): [string, string, Expected] => [
    "mislabelled",
    name,
    expected,
  ]),
];

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "vi-media-test-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let scratchCount = 0;
async function probeBytes(bytes: Uint8Array, options?: { maxPixels?: number }): Promise<ImageInfo> {
  const path = join(scratch, `case-${scratchCount++}`);
  await writeFile(path, bytes);
  try {
    return await probeImageFile(path, options);
  } finally {
    await rm(path, { force: true });
  }
}

/** The MediaError a probe rejects with; fails the test if it resolves or throws anything else. */
async function refusal(probe: Promise<unknown>): Promise<MediaError> {
  let outcome: unknown;
  try {
    outcome = await probe;
  } catch (error) {
    expect(error).toBeInstanceOf(MediaError);
    const mediaError = error as MediaError;
    expect(mediaError.reason).toBe(mediaError.message);
    expect(mediaError.message.length).toBeGreaterThan(10);
    return mediaError;
  }
  throw new Error(`expected a MediaError, but the probe accepted the file: ${JSON.stringify(outcome)}`);
}

describe("probeImageFile on the fixtures", () => {
  it("covers every fixture file in the manifest", async () => {
    for (const [group, entries] of Object.entries(manifest).filter(([key]) => key !== "about")) {
      const onDisk = (await readdir(join(FIXTURES, group))).sort();
      expect(onDisk, group).toEqual(Object.keys(entries as object).sort());
    }
  });

  it.each(accepted)("%s/%s matches the manifest", async (group, name, expected) => {
    const info = await probeImageFile(join(FIXTURES, group, name));
    expect(info.mimeType).toBe(expected.mimeType);
    expect(info.width).toBe(expected.width);
    expect(info.height).toBe(expected.height);
    expect(info.frames).toBe(expected.frames);
    expect(info.rawWidth).toBe(expected.rawWidth ?? expected.width);
    expect(info.rawHeight).toBe(expected.rawHeight ?? expected.height);
    expect(info.orientation).toBe(expected.orientation ?? 1);
  });

  const invalidCodes: Record<string, MediaErrorCode> = {
    "empty.jpg": "EBADMIME",
    "notes-not-image.png": "EBADMIME",
    "page-disguised.jpg": "EBADMIME",
    "vector.svg": "EBADMIME",
    "truncated.jpg": "ECORRUPT",
    "truncated.png": "ECORRUPT",
    "header-only.gif": "ECORRUPT",
  };
  it.each(Object.keys(manifest.invalid))("invalid/%s is refused", async (name) => {
    const error = await refusal(probeImageFile(join(FIXTURES, "invalid", name)));
    // A new invalid fixture without an entry here must still be refused as not-an-image or corrupt.
    expect(error.code).toBe(invalidCodes[name] ?? (error.code === "EBADMIME" ? "EBADMIME" : "ECORRUPT"));
  });

  it("says concretely why a file is refused", async () => {
    const reason = async (name: string): Promise<string> =>
      (await refusal(probeImageFile(join(FIXTURES, "invalid", name)))).message;
    expect(await reason("empty.jpg")).toMatch(/empty/);
    expect(await reason("notes-not-image.png")).toMatch(/plain text/);
    expect(await reason("page-disguised.jpg")).toMatch(/HTML/);
    expect(await reason("vector.svg")).toMatch(/SVG/);
    expect(await reason("truncated.png")).toBe(
      "PNG is truncated: no IEND chunk (file ends at 2000 bytes inside chunk IDAT)",
    );
    expect(await reason("truncated.jpg")).toMatch(/^JPEG is truncated: .*300 bytes/);
    expect(await reason("header-only.gif")).toMatch(/^GIF is truncated: .*6 bytes/);
  });

  it("lets I/O errors through as they are", async () => {
    await expect(probeImageFile(join(scratch, "does-not-exist.jpg"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("lists the supported extensions", () => {
    expect([...SUPPORTED_EXTENSIONS].sort()).toEqual(
      [
        ".jpg",
        ".jpeg",
        ".jfif",
        ".png",
        ".tif",
        ".tiff",
        ".bmp",
        ".webp",
        ".heif",
        ".heic",
        ".avif",
        ".jp2",
        ".j2k",
        ".gif",
      ].sort(),
    );
  });
});

describe("the pixel limit", () => {
  const bomb = join(FIXTURES, "hostile", "bomb-30000x30000.png");

  it("refuses the 30000x30000 PNG bomb by default, naming its size and the limit", async () => {
    const error = await refusal(probeImageFile(bomb));
    expect(error.code).toBe("EBADSIZE");
    expect(error.message).toContain("30000x30000");
    expect(error.message).toContain("268,402,689");
  });

  it("accepts it under a raised limit without decoding it", async () => {
    const before = process.memoryUsage().rss;
    const info = await probeImageFile(bomb, { maxPixels: 1e9 });
    const grown = process.memoryUsage().rss - before;
    expect(info).toMatchObject({ mimeType: "image/png", width: 30000, height: 30000, frames: 1 });
    // Decoding would need 900 MB; reading headers needs next to nothing.
    expect(grown).toBeLessThan(20 * 1024 * 1024);
  });

  it("applies a lowered limit to any format", async () => {
    const error = await refusal(
      probeImageFile(join(FIXTURES, "valid", "photo-baseline.jpg"), { maxPixels: 640 * 480 - 1 }),
    );
    expect(error.code).toBe("EBADSIZE");
    expect(error.message).toContain("640x480");
    await expect(
      probeImageFile(join(FIXTURES, "valid", "photo-baseline.jpg"), { maxPixels: 640 * 480 }),
    ).resolves.toBeTruthy();
  });
});

/** Where each format's headers end (so a cut just past them leaves a parsable header and no image data). */
function headerEnd(bytes: Buffer, mimeType: string): number {
  switch (mimeType) {
    case "image/png":
      return 33;
    case "image/gif":
      return 13 + ((bytes[10] ?? 0) & 0x80 ? 3 * 2 ** (((bytes[10] ?? 0) & 7) + 1) : 0);
    case "image/webp":
      return 30;
    case "image/bmp":
      return 14 + bytes.readUInt32LE(14);
    case "image/tiff":
      return 8;
    case "image/jpeg": {
      // Just past the SOFn segment.
      for (let at = 2; at + 4 <= bytes.length;) {
        const marker = bytes[at + 1] ?? 0;
        const length = bytes.readUInt16BE(at + 2);
        if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) return at + 2 + length;
        at += 2 + length;
      }
      return 2;
    }
    case "image/x-j2c":
      return 4 + bytes.readUInt16BE(6);
    default: {
      // Box formats (HEIF, AVIF, JP2): just past the header box (meta, jp2h).
      for (let at = 0; at + 8 <= bytes.length; at += bytes.readUInt32BE(at)) {
        const type = bytes.toString("latin1", at + 4, at + 8);
        if (type === "meta" || type === "jp2h") return at + bytes.readUInt32BE(at);
        if (bytes.readUInt32BE(at) < 8) break;
      }
      return 16;
    }
  }
}

describe("truncated copies of every accepted fixture", () => {
  it.each(accepted)("%s/%s is refused when cut short", async (group, name, expected) => {
    const bytes = await readFile(join(FIXTURES, group, name));
    const cuts = new Set([
      bytes.length - 1,
      bytes.length - 2,
      Math.floor(bytes.length / 2),
      headerEnd(bytes, expected.mimeType) + 1,
      20,
      5,
    ]);
    for (const cut of [...cuts].filter((c) => c > 0 && c < bytes.length)) {
      const error = await refusal(probeBytes(bytes.subarray(0, cut)));
      // Only a file too short to hold its signature may be "not an image"; anything longer is a broken image.
      if (cut >= 18) expect(error.code, `${name} cut at ${cut}: ${error.message}`).toBe("ECORRUPT");
      else expect(["EBADMIME", "ECORRUPT"], `${name} cut at ${cut}: ${error.message}`).toContain(error.code);
      expect(error.message, `${name} cut at ${cut}`).not.toContain(INTERNAL_FAULT_NOTE);
    }
  });
});

/** mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("hostile input", () => {
  const SIGNATURES: readonly number[][] = [
    [],
    [0xff, 0xd8, 0xff],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52],
    [...Buffer.from("GIF89a")],
    [...Buffer.from("RIFF"), 0, 0, 0, 0, ...Buffer.from("WEBPVP8X")],
    [0x49, 0x49, 0x2a, 0, 8, 0, 0, 0],
    [0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8],
    [0x49, 0x49, 0x2b, 0, 8, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0],
    [0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0],
    [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a, 0, 0, 0, 20, ...Buffer.from("ftypjp2 ")],
    [0xff, 0x4f, 0xff, 0x51],
    [0, 0, 0, 24, ...Buffer.from("ftypheic"), 0, 0, 0, 0, ...Buffer.from("mif1heic")],
  ];

  it("random mutations and garbage only ever yield an ImageInfo or a MediaError, promptly", async () => {
    const random = prng(0x5eed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const fixtures = await Promise.all(
      Object.keys(manifest.valid).map(async (name) => readFile(join(FIXTURES, "valid", name))),
    );
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      let bytes: Buffer;
      if (i % 2 === 0) {
        // A real file with a few bytes changed, mostly in its headers where the parsers look.
        bytes = Buffer.from(pick(fixtures));
        for (let n = 1 + Math.floor(random() * 6); n > 0; n--) {
          const span = random() < 0.7 ? Math.min(bytes.length, 512) : bytes.length;
          bytes[Math.floor(random() * span)] = pick([0x00, 0xff, Math.floor(random() * 256)]);
        }
      } else {
        // A known signature (or none) followed by garbage of a random length, biased short.
        const signature = pick(SIGNATURES);
        bytes = Buffer.alloc(signature.length + Math.floor(random() ** 3 * 4096));
        Buffer.from(signature).copy(bytes);
        const density = random();
        for (let at = signature.length; at < bytes.length; at++) {
          bytes[at] = random() < density ? Math.floor(random() * 256) : pick([0x00, 0xff]);
        }
      }
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`case ${i} hung`)), 5_000);
      });
      try {
        await Promise.race([probeBytes(bytes), hang]);
        outcomes.accepted = (outcomes.accepted ?? 0) + 1;
      } catch (error) {
        if (!(error instanceof MediaError)) throw new Error(`case ${i} threw a non-MediaError: ${String(error)}`);
        expect(error.message, `case ${i}`).not.toContain(INTERNAL_FAULT_NOTE);
        outcomes[error.code] = (outcomes[error.code] ?? 0) + 1;
      } finally {
        clearTimeout(timer);
      }
      expect(Date.now() - started, `case ${i}`).toBeLessThan(2_000);
    }
    // Both branches must have exercised refusals, or the generator is broken.
    expect(outcomes.ECORRUPT ?? 0).toBeGreaterThan(50);
    expect(outcomes.EBADMIME ?? 0).toBeGreaterThan(5);
  });
});

// ---- Synthetic files for cases the fixtures do not cover ----

const u8 = (...values: number[]): Buffer => Buffer.from(values);
function u16(value: number, little = false): Buffer {
  const bytes = Buffer.alloc(2);
  if (little) bytes.writeUInt16LE(value);
  else bytes.writeUInt16BE(value);
  return bytes;
}
function u32(value: number, little = false): Buffer {
  const bytes = Buffer.alloc(4);
  if (little) bytes.writeUInt32LE(value);
  else bytes.writeUInt32BE(value);
  return bytes;
}
function u64(value: number, little = false): Buffer {
  const bytes = Buffer.alloc(8);
  if (little) bytes.writeBigUInt64LE(BigInt(value));
  else bytes.writeBigUInt64BE(BigInt(value));
  return bytes;
}
const ascii = (text: string): Buffer => Buffer.from(text, "latin1");

function box(type: string, ...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  return Buffer.concat([u32(8 + payload.length), ascii(type), payload]);
}
function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, u32(((version << 24) | flags) >>> 0), ...parts);
}

/** A minimal HEIF: one coded item (type itemType) with ispe and the given extra properties, in that ipma order. */
function heif(options: {
  brands: string[];
  itemType?: string;
  ispe?: [number, number];
  properties?: Buffer[];
  dataLength?: number;
  declaredLength?: number;
}): Buffer {
  const [major = "heic", ...compatible] = options.brands;
  const [width, height] = options.ispe ?? [96, 64];
  const properties = [fullBox("ispe", 0, 0, u32(width), u32(height)), ...(options.properties ?? [])];
  const dataLength = options.dataLength ?? 16;
  const ftyp = box("ftyp", ascii(major), u32(0), ...compatible.map(ascii));
  const build = (dataOffset: number): Buffer =>
    fullBox(
      "meta",
      0,
      0,
      fullBox("hdlr", 0, 0, u32(0), ascii("pict"), u32(0), u32(0), u32(0), u8(0)),
      fullBox("pitm", 0, 0, u16(1)),
      fullBox(
        "iloc",
        0,
        0,
        u8(0x44),
        u8(0x00),
        u16(1),
        u16(1),
        u16(0),
        u16(1),
        u32(dataOffset),
        u32(options.declaredLength ?? dataLength),
      ),
      fullBox("iinf", 0, 0, u16(1), fullBox("infe", 2, 0, u16(1), u16(0), ascii(options.itemType ?? "hvc1"), u8(0))),
      box(
        "iprp",
        box("ipco", ...properties),
        fullBox("ipma", 0, 0, u32(1), u16(1), u8(properties.length), ...properties.map((_, i) => u8(0x80 | (i + 1)))),
      ),
    );
  const metaLength = build(0).length;
  const meta = build(ftyp.length + metaLength + 8);
  return Buffer.concat([ftyp, meta, box("mdat", Buffer.alloc(dataLength, 0x5a))]);
}
const clap = (width: number, height: number): Buffer =>
  box("clap", u32(width), u32(1), u32(height), u32(1), u32(0), u32(1), u32(0), u32(1));
const irot = (quarterTurnsAnticlockwise: number): Buffer => box("irot", u8(quarterTurnsAnticlockwise));
const imir = (axis: number): Buffer => box("imir", u8(axis));

describe("HEIF geometry and brands", () => {
  it("applies the clean aperture, then the rotation, in ipma order", async () => {
    const info = await probeBytes(heif({ brands: ["heic", "mif1"], properties: [clap(80, 48), irot(1)] }));
    expect(info).toEqual({
      mimeType: "image/heic",
      width: 48,
      height: 80,
      rawWidth: 96,
      rawHeight: 64,
      orientation: 8,
      frames: 1,
    });
  });

  it("measures a crop listed after a rotation in the rotated frame", async () => {
    const info = await probeBytes(heif({ brands: ["heic"], properties: [irot(3), clap(40, 30)] }));
    expect(info).toMatchObject({ width: 40, height: 30, rawWidth: 96, rawHeight: 64, orientation: 6 });
  });

  it("reports mirror and half-turn transforms as their EXIF equivalents", async () => {
    expect((await probeBytes(heif({ brands: ["heic"], properties: [imir(0)] }))).orientation).toBe(2);
    expect((await probeBytes(heif({ brands: ["heic"], properties: [irot(2)] }))).orientation).toBe(3);
    expect((await probeBytes(heif({ brands: ["heic"], properties: [imir(1)] }))).orientation).toBe(4);
    const transposed = await probeBytes(heif({ brands: ["heic"], properties: [imir(0), irot(1)] }));
    expect(transposed).toMatchObject({ orientation: 5, width: 64, height: 96 });
  });

  it("names the MIME type from the brands, or from the coding for codec-neutral mif1", async () => {
    expect((await probeBytes(heif({ brands: ["mif1"], itemType: "hvc1" }))).mimeType).toBe("image/heic");
    expect((await probeBytes(heif({ brands: ["mif1", "miaf"], itemType: "av01" }))).mimeType).toBe("image/avif");
    expect((await probeBytes(heif({ brands: ["mif1"], itemType: "jpeg" }))).mimeType).toBe("image/heif");
    expect((await probeBytes(heif({ brands: ["avif", "mif1"], itemType: "av01" }))).mimeType).toBe("image/avif");
  });

  it("refuses ISO media that is not an image, and items whose data is missing", async () => {
    expect((await refusal(probeBytes(heif({ brands: ["isom", "mp42"] })))).code).toBe("EBADMIME");
    const missing = await refusal(probeBytes(heif({ brands: ["heic"], dataLength: 16, declaredLength: 64 })));
    expect(missing.code).toBe("ECORRUPT");
    expect(missing.message).toMatch(/item 1's data .* past the end of the file/);
  });
});

/** A minimal TIFF (classic or BigTIFF): one 8-bit grey strip per page, pages chained in order. */
function tiff(options: {
  little: boolean;
  big?: boolean;
  pages: { width: number; height: number; orientation?: number }[];
  loop?: boolean;
  stripPastEnd?: boolean;
}): Buffer {
  const { little, big = false } = options;
  const word = (value: number): Buffer => (big ? u64(value, little) : u32(value, little));
  const entrySize = big ? 20 : 12;
  const chunks: Buffer[] = [];
  const headerSize = big ? 16 : 8;
  chunks.push(
    big
      ? Buffer.concat([
          ascii(little ? "II" : "MM"),
          u16(43, little),
          u16(8, little),
          u16(0, little),
          u64(headerSize, little),
        ])
      : Buffer.concat([ascii(little ? "II" : "MM"), u16(42, little), u32(headerSize, little)]),
  );
  let offset = headerSize;
  options.pages.forEach((page, index) => {
    const tags: [number, number, number][] = [
      [256, 3, page.width],
      [257, 4, page.height],
      [273, 4, 0], // patched below
      ...(page.orientation ? ([[274, 3, page.orientation]] as [number, number, number][]) : []),
      [279, 4, page.width * page.height],
    ];
    const ifdSize = (big ? 8 : 2) + tags.length * entrySize + (big ? 8 : 4);
    const dataOffset = offset + ifdSize;
    const isLast = index === options.pages.length - 1;
    const next = isLast ? (options.loop ? headerSize : 0) : dataOffset + page.width * page.height;
    const entries = tags.map(([tag, type, value]) => {
      const stored = tag === 273 ? (options.stripPastEnd ? dataOffset + 1_000_000 : dataOffset) : value;
      const inline =
        type === 3
          ? Buffer.concat([u16(stored, little), Buffer.alloc(big ? 6 : 2)])
          : big
            ? u64(stored, little)
            : u32(stored, little);
      return Buffer.concat([u16(tag, little), u16(type, little), big ? u64(1, little) : u32(1, little), inline]);
    });
    chunks.push(big ? u64(tags.length, little) : u16(tags.length, little), ...entries, word(next));
    chunks.push(Buffer.alloc(page.width * page.height, 0x80));
    offset = dataOffset + page.width * page.height;
  });
  return Buffer.concat(chunks);
}

describe("TIFF structure", () => {
  it("reads big-endian TIFF with an Orientation tag", async () => {
    const info = await probeBytes(tiff({ little: false, pages: [{ width: 30, height: 20, orientation: 6 }] }));
    expect(info).toEqual({
      mimeType: "image/tiff",
      width: 20,
      height: 30,
      rawWidth: 30,
      rawHeight: 20,
      orientation: 6,
      frames: 1,
    });
  });

  it("counts the pages of a BigTIFF", async () => {
    const info = await probeBytes(
      tiff({
        little: true,
        big: true,
        pages: [
          { width: 8, height: 4 },
          { width: 5, height: 5 },
        ],
      }),
    );
    expect(info).toMatchObject({ mimeType: "image/tiff", width: 8, height: 4, frames: 2 });
  });

  it("refuses a directory chain that loops, and strips past the end of the file", async () => {
    const loop = await refusal(probeBytes(tiff({ little: true, pages: [{ width: 8, height: 4 }], loop: true })));
    expect(loop).toMatchObject({ code: "ECORRUPT" });
    expect(loop.message).toMatch(/loops/);
    const strip = await refusal(
      probeBytes(tiff({ little: true, pages: [{ width: 8, height: 4 }], stripPastEnd: true })),
    );
    expect(strip.code).toBe("ECORRUPT");
    expect(strip.message).toMatch(/strip 1 of page 1 .* past the end/);
  });
});

/** CRC-32 as PNG chunks use it (the probe checks them, so a synthetic chunk needs a right one). */
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe("other format details", () => {
  it("reads an APNG's frame count from acTL", async () => {
    const png = await readFile(join(FIXTURES, "valid", "gray.png"));
    const body = Buffer.concat([ascii("acTL"), u32(7), u32(0)]);
    const actl = Buffer.concat([u32(8), body, u32(crc32(body))]);
    const info = await probeBytes(Buffer.concat([png.subarray(0, 33), actl, png.subarray(33)]));
    expect(info).toMatchObject({ mimeType: "image/png", width: 120, height: 90, frames: 7 });
  });

  it("reads little-endian (II) EXIF orientation in a JPEG", async () => {
    const jpeg = await readFile(join(FIXTURES, "valid", "photo-baseline.jpg"));
    const exif = Buffer.concat([
      ascii("Exif\0\0II"),
      u16(42, true),
      u32(8, true),
      u16(1, true),
      u16(0x0112, true),
      u16(3, true),
      u32(1, true),
      u16(8, true),
      u16(0),
      u32(0),
    ]);
    const app1 = Buffer.concat([u8(0xff, 0xe1), u16(exif.length + 2), exif]);
    const info = await probeBytes(Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]));
    expect(info).toEqual({
      mimeType: "image/jpeg",
      width: 480,
      height: 640,
      rawWidth: 640,
      rawHeight: 480,
      orientation: 8,
      frames: 1,
    });
  });

  it("accepts zero padding and other bytes after a JPEG's end-of-image marker, but not a cut image with bytes after it", async () => {
    const jpeg = await readFile(join(FIXTURES, "valid", "legacy.jfif"));
    await expect(probeBytes(Buffer.concat([jpeg, Buffer.alloc(4096)]))).resolves.toMatchObject({ width: 160 });
    // Camera and editor trailers follow EOI in real files (issue 9); decoders stop at EOI.
    await expect(probeBytes(Buffer.concat([jpeg, ascii("junk")]))).resolves.toMatchObject({ width: 160 });
    const cut = await refusal(probeBytes(Buffer.concat([jpeg.subarray(0, jpeg.length - 100), ascii("junk")])));
    expect(cut.code).toBe("ECORRUPT");
    expect(cut.message).toMatch(/without the end-of-image marker FFD9/);
  });

  it("refuses a WebP whose RIFF size does not match the file", async () => {
    const webp = await readFile(join(FIXTURES, "valid", "lossy.webp"));
    const error = await refusal(probeBytes(Buffer.concat([webp, Buffer.alloc(10)])));
    expect(error.code).toBe("ECORRUPT");
    expect(error.message).toMatch(/RIFF header declares/);
  });

  it("reads a top-down BMP (negative height)", async () => {
    const bmp = Buffer.from(await readFile(join(FIXTURES, "valid", "bitmap-24.bmp")));
    bmp.writeInt32LE(-90, 22);
    expect(await probeBytes(bmp)).toMatchObject({ mimeType: "image/bmp", width: 180, height: 90 });
  });

  it("refuses RIFF files that are not WebP and text that starts like a BMP", async () => {
    expect((await refusal(probeBytes(Buffer.concat([ascii("RIFF"), u32(4, true), ascii("AVI ")])))).code).toBe(
      "EBADMIME",
    );
    expect((await refusal(probeBytes(ascii("BMW owners' manual, chapter 1\n")))).code).toBe("EBADMIME");
  });
});
