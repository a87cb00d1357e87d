import { open } from "node:fs/promises";
import { probeImageBytes } from "../probe.js";

/**
 * Frames of an HEIF/AVIF image sequence are the samples of its 'pict' track: neither libvips
 * nor libheif-js counts them (they read the still primary item). The upload probe counts them
 * from the container (media/isobmff-sequence.ts) without decoding anything; the decoders ask
 * it, for files whose brands say they are sequences.
 */
export async function sequenceSampleCount(bytes: Buffer): Promise<number | undefined> {
  return probeImageBytes(bytes).then(
    (info) => info.frames,
    () => undefined,
  );
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
