import { open } from "node:fs/promises";

/**
 * Frames of an HEIF/AVIF image sequence, from the container: the sample count of the first
 * 'pict' track (moov/trak/mdia/minf/stbl/stsz or stz2). Neither libvips nor libheif-js counts
 * them (they read the still primary item), and reading the count decodes nothing.
 */

interface Box {
  type: string;
  start: number; // payload start
  end: number;
}

function* boxes(bytes: Buffer, start: number, end: number): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    let size = bytes.readUInt32BE(at);
    const type = bytes.toString("latin1", at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) return;
      size = Number(bytes.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) return; // a damaged box ends the walk, not the decode
    yield { type, start: at + header, end: at + size };
    at += size;
  }
}

function child(bytes: Buffer, parent: Box, type: string): Box | undefined {
  for (const box of boxes(bytes, parent.start, parent.end)) if (box.type === type) return box;
  return undefined;
}

function path(bytes: Buffer, from: Box, types: string[]): Box | undefined {
  let box: Box | undefined = from;
  for (const type of types) {
    box = box && child(bytes, box, type);
  }
  return box;
}

/** Samples of the image sequence track, or undefined when the file has none. */
export function sequenceSampleCount(bytes: Buffer): number | undefined {
  const moov = [...boxes(bytes, 0, bytes.length)].find((box) => box.type === "moov");
  if (!moov) return undefined;
  for (const trak of boxes(bytes, moov.start, moov.end)) {
    if (trak.type !== "trak") continue;
    const hdlr = path(bytes, trak, ["mdia", "hdlr"]);
    // FullBox header (4), pre_defined (4), then the handler type.
    if (!hdlr || hdlr.end - hdlr.start < 12 || bytes.toString("latin1", hdlr.start + 8, hdlr.start + 12) !== "pict") {
      continue;
    }
    const stbl = path(bytes, trak, ["mdia", "minf", "stbl"]);
    const sizes = stbl && (child(bytes, stbl, "stsz") ?? child(bytes, stbl, "stz2"));
    // stsz: FullBox (4), sample_size (4), sample_count (4); stz2: FullBox (4), reserved+field_size (4), count (4).
    if (sizes && sizes.end - sizes.start >= 12) return bytes.readUInt32BE(sizes.start + 8);
  }
  return undefined;
}

/** The ftyp brands (major first), read from the head of the file only. */
export async function readBrands(path: string): Promise<string[]> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(256);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return brandsOf(head.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/** Brands of image sequences: only these files are read whole to count their samples. */
export function isSequence(brands: string[]): boolean {
  return brands.some((brand) => brand === "avis" || brand === "msf1" || brand === "hevs");
}

/** The ftyp brands of a file's first bytes (major brand first; minor version skipped). */
export function brandsOf(bytes: Buffer): string[] {
  if (bytes.length < 16 || bytes.toString("latin1", 4, 8) !== "ftyp") return [];
  const end = Math.min(bytes.readUInt32BE(0), bytes.length);
  const brands = [bytes.toString("latin1", 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(bytes.toString("latin1", at, at + 4));
  return brands;
}
