import { hexPreview } from "./bytes.js";
import { malformed, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import { displayedSize, orientationFromExif } from "./orientation.js";
import type { ImageReader } from "./reader.js";

const FORMAT = "JPEG";
/** Real files have a few dozen segments before the scan; this only stops hostile files from spinning. */
const MAX_SEGMENTS = 8192;
/** libjpeg skips stray bytes before a marker with a warning; allow a little of that, not a megabyte of it. */
const MAX_STRAY_BYTES = 1024;
const MAX_FILL_BYTES = 64 * 1024;

/** Start-of-frame markers C0..CF, except DHT (C4), JPG (C8) and DAC (CC) which share the range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Markers that stand alone, without a length: TEM and the restart markers RST0..RST7. */
function isStandalone(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);
}

function markerName(marker: number): string {
  if (isStartOfFrame(marker)) return `SOF${marker - 0xc0}`;
  if (marker >= 0xe0 && marker <= 0xef) return `APP${marker - 0xe0}`;
  const names: Record<number, string> = {
    0xc4: "DHT",
    0xcc: "DAC",
    0xda: "SOS",
    0xdb: "DQT",
    0xdd: "DRI",
    0xde: "DHP",
    0xfe: "COM",
  };
  return names[marker] ?? `marker FF${marker.toString(16).toUpperCase().padStart(2, "0")}`;
}

/**
 * Walks the marker segments from SOI to the first SOS (start of scan), taking
 * the frame size from SOFn and the orientation from an EXIF APP1 segment.
 * Completeness is judged by an SOS being present and an EOI marker FFD9: at
 * the end of the file (the common case, the entropy-coded data is never read),
 * or, when other bytes follow the image, found by walking the scans to it.
 */
export async function parseJpeg(reader: ImageReader): Promise<ImageInfo> {
  reader.format = FORMAT;
  const size = reader.size;
  let offset = 2; // past SOI
  let frame: { width: number; height: number } | undefined;
  let orientation = 1;
  let sawExif = false;
  let scanStart = -1;

  for (let segments = 0; scanStart < 0; segments++) {
    if (segments >= MAX_SEGMENTS)
      throw malformed(FORMAT, `more than ${MAX_SEGMENTS} marker segments before the image data`);
    offset = await findMarker(reader, offset);
    const marker = (await reader.read(offset + 1, 1))[0] ?? 0;
    const name = markerName(marker);

    if (isStandalone(marker)) {
      offset += 2;
      continue;
    }
    if (marker === 0xd9) {
      throw malformed(
        FORMAT,
        `the end-of-image marker (FFD9) at offset ${offset} comes before any image data (no SOS marker)`,
      );
    }
    if (marker === 0xd8 || marker === 0x00) {
      throw malformed(
        FORMAT,
        `unexpected ${marker === 0xd8 ? "second start-of-image marker" : "byte FF00"} at offset ${offset}`,
      );
    }
    if (offset + 4 > size) {
      throw truncated(
        FORMAT,
        `the file ends at ${size} bytes inside the ${name} segment header, before any image data`,
      );
    }
    const length = (await reader.read(offset + 2, 2)).readUInt16BE(0);
    if (length < 2)
      throw malformed(FORMAT, `the ${name} segment at offset ${offset} declares an impossible length of ${length}`);
    const dataStart = offset + 4;
    const segmentEnd = offset + 2 + length;
    if (segmentEnd > size) {
      throw truncated(
        FORMAT,
        `the ${name} segment at offset ${offset} declares ${length} bytes but the file ends at ${size} bytes, before any image data`,
      );
    }

    if (isStartOfFrame(marker) && !frame) {
      if (length < 8) throw malformed(FORMAT, `the ${name} segment is ${length} bytes, too short for a frame header`);
      const header = await reader.read(dataStart, 6, `${name} frame header`);
      const height = header.readUInt16BE(1);
      const width = header.readUInt16BE(3);
      const components = header.readUInt8(5);
      if (components === 0 || length < 8 + 3 * components) {
        throw malformed(FORMAT, `the ${name} frame header declares ${components} components in ${length} bytes`);
      }
      if (width === 0) throw malformed(FORMAT, `the ${name} frame header declares a width of 0`);
      if (height === 0) {
        // A zero height means "defined later by a DNL marker", which would need the entropy data decoded.
        throw malformed(FORMAT, "the frame height is deferred to a DNL marker, which is not supported");
      }
      frame = { width, height };
    } else if (marker === 0xe1 && !sawExif && length >= 8) {
      const data = await reader.read(dataStart, length - 2, "APP1 segment");
      if (data.toString("latin1", 0, 6) === "Exif\0\0") {
        sawExif = true;
        orientation = orientationFromExif(data.subarray(6));
      }
    } else if (marker === 0xda) {
      if (!frame) throw malformed(FORMAT, `the scan (SOS) at offset ${offset} comes before any frame header (SOFn)`);
      scanStart = segmentEnd;
    }
    offset = segmentEnd;
  }

  if (!frame) throw malformed(FORMAT, "no frame header (SOFn)");
  // Most files end with EOI (zero padding after it tolerated): two bytes read settle it.
  const end = await reader.endBeforeZeroPadding(scanStart, size);
  const tail = end - scanStart >= 2 ? await reader.read(end - 2, 2, "end-of-image marker") : Buffer.alloc(0);
  const endsWithEoi = tail.length === 2 && tail[0] === 0xff && tail[1] === 0xd9;
  // Otherwise bytes may follow EOI: camera and editor trailers, the video of a "motion photo". Decoders stop at
  // EOI, so the image is whole if EOI is there; only walking the scans to it can tell a trailer from a cut.
  if (!endsWithEoi && (await findEndOfImage(reader, scanStart)) === undefined) {
    throw truncated(
      FORMAT,
      `the image data is cut off: the file ends at ${size} bytes without the end-of-image marker FFD9` +
        (tail.length === 2 ? ` (last bytes ${hexPreview(tail)})` : ""),
    );
  }

  return {
    mimeType: "image/jpeg",
    ...displayedSize(frame.width, frame.height, orientation),
    rawWidth: frame.width,
    rawHeight: frame.height,
    orientation,
    frames: 1,
  };
}

/**
 * Offset of the next marker's FF byte (the last of any FF fill bytes) at or
 * after `offset`, skipping a bounded number of stray bytes.
 */
async function findMarker(reader: ImageReader, offset: number): Promise<number> {
  const size = reader.size;
  let at = offset;
  const strayLimit = Math.min(size, offset + MAX_STRAY_BYTES);
  while (at < strayLimit && (await reader.read(at, 1))[0] !== 0xff) at++;
  if (at >= size) {
    throw truncated(FORMAT, `the file ends at ${size} bytes before any image data (no SOS marker)`);
  }
  if ((await reader.read(at, 1))[0] !== 0xff) {
    throw malformed(
      FORMAT,
      `expected a marker at offset ${offset}, found ${hexPreview(await reader.readUpTo(offset, 4))}`,
    );
  }
  const fillLimit = Math.min(size, at + MAX_FILL_BYTES);
  while (at + 1 < fillLimit && (await reader.read(at + 1, 1))[0] === 0xff) at++;
  if (at + 1 >= size) {
    throw truncated(FORMAT, `the file ends at ${size} bytes inside a marker, before any image data`);
  }
  if ((await reader.read(at + 1, 1))[0] === 0xff)
    throw malformed(FORMAT, `a run of over ${MAX_FILL_BYTES} fill bytes at offset ${offset}`);
  return at;
}

/**
 * Offset just past the EOI marker that ends the image whose first scan's data
 * starts at `from`, or undefined if the file ends first. Inside entropy-coded
 * data a 0xFF byte is always followed by a stuffed 0x00, a restart marker or a
 * real marker, so FFD9 cannot occur there by chance; the marker segments
 * between scans (DHT, SOS, DRI, COM, ... in progressive files) are skipped by
 * their lengths, since their payloads may hold any bytes. One sequential pass
 * over the scans, in the reader's large blocks; the bytes after EOI are never read.
 */
async function findEndOfImage(reader: ImageReader, from: number): Promise<number | undefined> {
  let state: "data" | "marker" | "length" | "length2" = "data";
  let lengthHigh = 0;
  let skipUntil = from;
  let base = from;
  for await (const piece of reader.pieces(from, reader.size, "image data")) {
    let i = Math.max(0, skipUntil - base);
    while (i < piece.length) {
      const byte = piece[i] ?? 0;
      if (state === "data") {
        const next = piece.indexOf(0xff, i);
        if (next < 0) break;
        state = "marker";
        i = next + 1;
      } else if (state === "marker") {
        if (byte === 0xd9) return base + i + 1;
        // FF fill bytes, a stuffed zero, restart markers and other markers without a length.
        if (byte !== 0xff) state = byte === 0x00 || byte === 0x01 || (byte >= 0xd0 && byte <= 0xd8) ? "data" : "length";
        i++;
      } else if (state === "length") {
        lengthHigh = byte;
        state = "length2";
        i++;
      } else {
        // The segment started 3 bytes back (FF, marker, high length byte); its length counts the length bytes.
        const length = (lengthHigh << 8) | byte;
        if (length < 2) {
          throw malformed(
            FORMAT,
            `the marker segment at offset ${base + i - 3} declares an impossible length of ${length}`,
          );
        }
        skipUntil = base + i - 1 + length;
        state = "data";
        i = skipUntil - base;
      }
    }
    base += piece.length;
  }
  return undefined;
}
