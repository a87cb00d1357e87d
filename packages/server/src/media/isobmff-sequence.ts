import { type Box, BoxCursor, readChildBoxes } from "./boxes.js";
import { malformed } from "./errors.js";
import type { ImageReader } from "./reader.js";

/** A 'moov' is a few KB per thousand frames (4 bytes a sample in 'stsz'); this bounds the one read of it. */
const MAX_MOOV_SIZE = 16 * 1024 * 1024;

/**
 * The number of frames of an image sequence (AVIF 'avis', HEIF 'msf1'): the
 * samples of the first image-sequence track in 'moov', whose media handler is
 * 'pict' (ISO/IEC 23008-12, 7.2). Tracks that are auxiliary to another ('auxl'
 * track reference: libavif's alpha plane) are not frames of their own. The
 * count is 'stsz' (or compact 'stz2') sample_count, else the sum of the
 * 'stts' run lengths. Undefined when there is no such track or it is empty:
 * the file is then a still image with a 'moov' beside it.
 */
export async function countSequenceFrames(reader: ImageReader, moov: Box, format: string): Promise<number | undefined> {
  if (moov.end - moov.payload > MAX_MOOV_SIZE) throw malformed(format, `the 'moov' box is over ${MAX_MOOV_SIZE} bytes`);
  const bytes = Buffer.from(await reader.read(moov.payload, moov.end - moov.payload, "'moov' box"));
  const children = (parent: Box, name: string): Box[] =>
    readChildBoxes(bytes, parent.payload, parent.end, format, name);
  const child = (parent: Box, type: string, name: string): Box | undefined =>
    children(parent, name).find((box) => box.type === type);
  const root: Box = { type: "moov", start: 0, payload: 0, end: bytes.length };

  for (const trak of children(root, "moov").filter((box) => box.type === "trak")) {
    const tref = child(trak, "tref", "trak");
    if (tref && children(tref, "tref").some((box) => box.type === "auxl")) continue;
    const mdia = child(trak, "mdia", "trak");
    const hdlr = mdia && child(mdia, "hdlr", "mdia");
    if (!mdia || !hdlr) continue;
    const handler = new BoxCursor(bytes, hdlr.payload, hdlr.end, format, "hdlr");
    handler.u32(); // version and flags
    handler.u32(); // pre_defined
    if (handler.fourCC() !== "pict") continue;
    const minf = child(mdia, "minf", "mdia");
    const stbl = minf && child(minf, "stbl", "minf");
    if (!stbl) throw malformed(format, "the image sequence track has no sample table ('stbl' box)");
    const count = sampleCount(bytes, children(stbl, "stbl"), format);
    return count > 0 ? count : undefined;
  }
  return undefined;
}

function sampleCount(bytes: Buffer, table: Box[], format: string): number {
  for (const box of table) {
    if (box.type !== "stsz" && box.type !== "stz2") continue;
    const cursor = new BoxCursor(bytes, box.payload, box.end, format, box.type);
    cursor.u32(); // version and flags
    cursor.u32(); // stsz: sample_size; stz2: reserved and field_size
    return cursor.u32();
  }
  const stts = table.find((box) => box.type === "stts");
  if (!stts) throw malformed(format, "the image sequence track has neither a sample size nor a time-to-sample table");
  const cursor = new BoxCursor(bytes, stts.payload, stts.end, format, "stts");
  cursor.u32(); // version and flags
  const entries = cursor.u32();
  let total = 0;
  // Each entry is 8 bytes, so a count larger than the box holds fails on the cursor, not the loop.
  for (let i = 0; i < entries; i++) {
    total += cursor.u32(); // sample_count
    cursor.u32(); // sample_delta
  }
  return total;
}
