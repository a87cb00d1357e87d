import { type Box, BoxCursor, readChildBoxes, readTopLevelBoxes } from "./boxes.js";
import { malformed, notAnImage, truncated } from "./errors.js";
import type { ImageInfo } from "./image-info.js";
import { countSequenceFrames } from "./isobmff-sequence.js";
import { type HeifTransform, orientationFromHeifTransforms } from "./orientation.js";
import type { ImageReader } from "./reader.js";

/** HEVC-coded HEIF brands (ISO/IEC 23008-12 annex B): image/heic. */
const HEIC_BRANDS: ReadonlySet<string> = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx"]);
const AVIF_BRANDS: ReadonlySet<string> = new Set(["avif", "avis"]);
/** Codec-neutral HEIF brands: the primary item's coding decides the MIME type. */
const HEIF_BRANDS: ReadonlySet<string> = new Set(["mif1", "msf1", "mif2", "miaf"]);
const HEVC_ITEM_TYPES: ReadonlySet<string> = new Set(["hvc1", "hev1"]);
/** Derived images whose coding is that of the images they are built from ('dimg' references). */
const DERIVED_ITEM_TYPES: ReadonlySet<string> = new Set(["grid", "iovl", "iden"]);
const MAX_FTYP_SIZE = 4096;
/** Real meta boxes are kilobytes (iPhone grids: tens of KB); this bounds the one read of it. */
const MAX_META_SIZE = 16 * 1024 * 1024;

interface Meta {
  bytes: Buffer;
  children: Map<string, Box>;
}

interface ItemLocation {
  constructionMethod: number;
  dataReferenceIndex: number;
  extents: { offset: number; length: number }[];
}

/**
 * HEIF, HEIC and AVIF: ISOBMFF with an image 'meta' box. The brands in 'ftyp'
 * tell an image from other ISO media (MP4, QuickTime); the primary item (pitm)
 * gets its stored size from its 'ispe' property, its displayed size from the
 * 'clap' crop and 'irot' rotation associated with it (in ipma order). Complete
 * means every top-level box and every item's iloc extents lie within the file.
 * An image sequence ('moov' beside 'meta') reports its track's sample count as frames.
 */
export async function parseIsobmff(reader: ImageReader): Promise<ImageInfo> {
  reader.format = "HEIF";
  const { major, brands } = await readBrands(reader);
  const format = [...brands].some((b) => HEIC_BRANDS.has(b))
    ? "HEIC"
    : [...brands].some((b) => AVIF_BRANDS.has(b))
      ? "AVIF"
      : "HEIF";
  reader.format = format;

  const boxes = await readTopLevelBoxes(reader, 0, format);
  const metaBox = boxes.find((box) => box.type === "meta");
  if (!metaBox) throw malformed(format, "no 'meta' box: the file holds no still image");
  if (metaBox.end - metaBox.payload > MAX_META_SIZE)
    throw malformed(format, `the 'meta' box is over ${MAX_META_SIZE} bytes`);
  const metaBytes = Buffer.from(await reader.read(metaBox.payload, metaBox.end - metaBox.payload, "'meta' box"));
  // 'meta' is a full box: 4 bytes of version and flags precede its children.
  if (metaBytes.length < 4) throw malformed(format, "the 'meta' box is empty");
  const meta: Meta = { bytes: metaBytes, children: new Map() };
  for (const child of readChildBoxes(metaBytes, 4, metaBytes.length, format, "meta")) {
    if (!meta.children.has(child.type)) meta.children.set(child.type, child);
  }

  // HEIF requires the handler (ISO/IEC 23008-12, 9.2): without it nothing says 'meta' describes images, and
  // libheif refuses the file.
  const handler = meta.children.get("hdlr");
  if (!handler) throw malformed(format, "the 'meta' box has no handler ('hdlr' box)");
  const handlerCursor = cursorOf(meta, handler, format);
  handlerCursor.u32(); // version and flags
  handlerCursor.u32(); // pre_defined
  const handlerType = handlerCursor.fourCC();
  if (handlerType !== "pict") throw malformed(format, `the 'meta' handler is '${handlerType}', not 'pict' (image)`);

  const primary = readPrimaryItem(meta, format);
  const itemTypes = readItemTypes(meta, format);
  const primaryType = itemTypes.get(primary);
  if (primaryType === undefined) throw malformed(format, `the primary item ${primary} is not described in 'iinf'`);
  let coding = primaryType;
  if (DERIVED_ITEM_TYPES.has(primaryType)) {
    const source = readReferences(meta, format, "dimg", primary)[0];
    coding = (source !== undefined ? itemTypes.get(source) : undefined) ?? primaryType;
  }

  const locations = readItemLocations(meta, format);
  // An identity-derived ('iden') item has an empty body, so it may have no location; every other image has data.
  if (!locations.has(primary) && primaryType !== "iden") {
    throw malformed(format, `the primary item ${primary} has no data location in 'iloc'`);
  }
  checkItemLocations(reader, meta, locations, format);

  const geometry = readPrimaryGeometry(meta, format, primary);
  const moov = boxes.find((box) => box.type === "moov");
  const frames = moov ? await countSequenceFrames(reader, moov, format) : undefined;
  return {
    mimeType: mimeTypeOf(major, brands, coding),
    width: geometry.width,
    height: geometry.height,
    rawWidth: geometry.rawWidth,
    rawHeight: geometry.rawHeight,
    orientation: geometry.orientation,
    frames: frames ?? 1,
  };
}

async function readBrands(reader: ImageReader): Promise<{ major: string; brands: Set<string> }> {
  const header = await reader.read(0, 8, "'ftyp' box header");
  const size = header.readUInt32BE(0);
  if (size < 16 || size > MAX_FTYP_SIZE || (size - 16) % 4 !== 0) {
    throw malformed(reader.format, `the 'ftyp' box declares an invalid size of ${size}`);
  }
  const ftyp = await reader.read(8, size - 8, "'ftyp' box");
  const major = ftyp.toString("latin1", 0, 4);
  const brands = new Set([major]);
  for (let at = 8; at + 4 <= ftyp.length; at += 4) brands.add(ftyp.toString("latin1", at, at + 4));
  const isImage = [...brands].some((b) => HEIC_BRANDS.has(b) || AVIF_BRANDS.has(b) || HEIF_BRANDS.has(b));
  if (!isImage) {
    const list = [...brands].map((b) => `'${JSON.stringify(b).slice(1, -1)}'`).join(", ");
    throw notAnImage(
      `an ISO media file with brands ${list} (such as MP4 or QuickTime video), not a HEIF or AVIF image`,
    );
  }
  return { major, brands };
}

/**
 * image/heic for the HEVC brands and for codec-neutral HEIF whose primary
 * image is HEVC-coded (what phones write); image/avif likewise for AV1;
 * image/heif for any other coding.
 */
function mimeTypeOf(major: string, brands: ReadonlySet<string>, coding: string): string {
  if (HEIC_BRANDS.has(major)) return "image/heic";
  if (AVIF_BRANDS.has(major)) return "image/avif";
  if (HEVC_ITEM_TYPES.has(coding)) return "image/heic";
  if (coding === "av01") return "image/avif";
  if ([...brands].some((b) => HEIC_BRANDS.has(b))) return "image/heic";
  if ([...brands].some((b) => AVIF_BRANDS.has(b))) return "image/avif";
  return "image/heif";
}

function cursorOf(meta: Meta, box: Box, format: string): BoxCursor {
  return new BoxCursor(meta.bytes, box.payload, box.end, format, box.type);
}

function readPrimaryItem(meta: Meta, format: string): number {
  const box = meta.children.get("pitm");
  if (!box) throw malformed(format, "no primary item ('pitm' box)");
  const cursor = cursorOf(meta, box, format);
  const version = cursor.u8();
  cursor.pos += 3; // flags
  return version === 0 ? cursor.u16() : cursor.u32();
}

/** Item ID -> item type (e.g. 'hvc1', 'av01', 'grid', 'Exif') from 'iinf'/'infe' version 2 and 3 entries. */
function readItemTypes(meta: Meta, format: string): Map<number, string> {
  const box = meta.children.get("iinf");
  if (!box) throw malformed(format, "no item information ('iinf' box)");
  const cursor = cursorOf(meta, box, format);
  const version = cursor.u8();
  cursor.pos += 3;
  if (version === 0) cursor.u16();
  else cursor.u32(); // entry count: the child boxes themselves are authoritative
  const types = new Map<number, string>();
  for (const infe of readChildBoxes(meta.bytes, cursor.pos, box.end, format, "iinf")) {
    if (infe.type !== "infe") continue;
    const entry = new BoxCursor(meta.bytes, infe.payload, infe.end, format, "infe");
    const infeVersion = entry.u8();
    entry.pos += 3;
    if (infeVersion < 2) continue; // versions 0 and 1 predate item types
    const id = infeVersion === 2 ? entry.u16() : entry.u32();
    entry.u16(); // protection index
    if (!types.has(id)) types.set(id, entry.fourCC());
  }
  return types;
}

/** The items that `from` references with the given reference type in 'iref'. */
function readReferences(meta: Meta, format: string, referenceType: string, from: number): number[] {
  const box = meta.children.get("iref");
  if (!box) return [];
  const cursor = cursorOf(meta, box, format);
  const version = cursor.u8();
  cursor.pos += 3;
  for (const reference of readChildBoxes(meta.bytes, cursor.pos, box.end, format, "iref")) {
    if (reference.type !== referenceType) continue;
    const entry = new BoxCursor(meta.bytes, reference.payload, reference.end, format, referenceType);
    const fromId = version === 0 ? entry.u16() : entry.u32();
    if (fromId !== from) continue;
    const count = entry.u16();
    const targets: number[] = [];
    for (let i = 0; i < count; i++) targets.push(version === 0 ? entry.u16() : entry.u32());
    return targets;
  }
  return [];
}

function readItemLocations(meta: Meta, format: string): Map<number, ItemLocation> {
  const box = meta.children.get("iloc");
  if (!box) throw malformed(format, "no item locations ('iloc' box)");
  const cursor = cursorOf(meta, box, format);
  const version = cursor.u8();
  if (version > 2) throw malformed(format, `unknown 'iloc' version ${version}`);
  cursor.pos += 3;
  const sizes = cursor.u8();
  const offsetSize = sizes >> 4;
  const lengthSize = sizes & 0x0f;
  const sizes2 = cursor.u8();
  const baseOffsetSize = sizes2 >> 4;
  const indexSize = version === 1 || version === 2 ? sizes2 & 0x0f : 0;
  const itemCount = version < 2 ? cursor.u16() : cursor.u32();
  const locations = new Map<number, ItemLocation>();
  // Each item takes at least 6 bytes, so a count larger than the box allows fails on the cursor, not the loop.
  for (let i = 0; i < itemCount; i++) {
    const id = version < 2 ? cursor.u16() : cursor.u32();
    const constructionMethod = version === 1 || version === 2 ? cursor.u16() & 0x0f : 0;
    const dataReferenceIndex = cursor.u16();
    const baseOffset = cursor.uint(baseOffsetSize);
    const extentCount = cursor.u16();
    const extents: { offset: number; length: number }[] = [];
    for (let e = 0; e < extentCount; e++) {
      if (indexSize > 0) cursor.uint(indexSize);
      const offset = baseOffset + cursor.uint(offsetSize);
      extents.push({ offset, length: cursor.uint(lengthSize) });
    }
    locations.set(id, { constructionMethod, dataReferenceIndex, extents });
  }
  return locations;
}

/** Every item's extents in the file (construction method 0) or in 'idat' (method 1) must be present. */
function checkItemLocations(
  reader: ImageReader,
  meta: Meta,
  locations: ReadonlyMap<number, ItemLocation>,
  format: string,
): void {
  const idat = meta.children.get("idat");
  const idatLength = idat ? idat.end - idat.payload : 0;
  for (const [id, location] of locations) {
    // Data in other files (data references) or built from other items (method 2) has nothing here to check.
    if (location.dataReferenceIndex !== 0) continue;
    for (const { offset, length } of location.extents) {
      if (location.constructionMethod === 0) {
        // A zero length means "to the end of the file".
        if (!reader.has(offset, length)) {
          throw truncated(
            format,
            `item ${id}'s data (bytes ${offset}..${offset + length}) lies past the end of the file (${reader.size} bytes)`,
          );
        }
      } else if (location.constructionMethod === 1) {
        if (!Number.isSafeInteger(offset + length) || offset + length > idatLength) {
          throw malformed(
            format,
            `item ${id}'s data (bytes ${offset}..${offset + length}) lies outside its 'idat' box (${idatLength} bytes)`,
          );
        }
      }
    }
  }
}

/**
 * The primary item's stored size ('ispe') and displayed size: its associated
 * 'clap' and 'irot' properties applied in their ipma order, since a crop
 * listed after a rotation is measured in the rotated frame.
 */
function readPrimaryGeometry(
  meta: Meta,
  format: string,
  primary: number,
): { width: number; height: number; rawWidth: number; rawHeight: number; orientation: number } {
  const iprp = meta.children.get("iprp");
  if (!iprp) throw malformed(format, "no item properties ('iprp' box)");
  const iprpChildren = readChildBoxes(meta.bytes, iprp.payload, iprp.end, format, "iprp");
  const ipco = iprpChildren.find((box) => box.type === "ipco");
  if (!ipco) throw malformed(format, "no item property container ('ipco' box)");
  const properties = readChildBoxes(meta.bytes, ipco.payload, ipco.end, format, "ipco");

  const associated: Box[] = [];
  for (const ipma of iprpChildren.filter((box) => box.type === "ipma")) {
    const cursor = cursorOf(meta, ipma, format);
    const version = cursor.u8();
    cursor.pos += 2;
    const flags = cursor.u8();
    const entryCount = cursor.u32();
    for (let i = 0; i < entryCount; i++) {
      const id = version < 1 ? cursor.u16() : cursor.u32();
      const count = cursor.u8();
      for (let a = 0; a < count; a++) {
        // The top bit is "essential"; the rest is a 1-based index into ipco (0 = no property).
        const index = flags & 1 ? cursor.u16() & 0x7fff : cursor.u8() & 0x7f;
        if (id !== primary || index === 0) continue;
        const property = properties[index - 1];
        if (!property)
          throw malformed(
            format,
            `item ${id} is associated with property ${index}, but 'ipco' holds ${properties.length}`,
          );
        associated.push(property);
      }
    }
  }

  const ispe = associated.find((box) => box.type === "ispe");
  if (!ispe) throw malformed(format, `the primary item ${primary} has no image size ('ispe' property)`);
  const ispeCursor = cursorOf(meta, ispe, format);
  ispeCursor.u32(); // version and flags
  const rawWidth = ispeCursor.u32();
  const rawHeight = ispeCursor.u32();
  if (rawWidth === 0 || rawHeight === 0)
    throw malformed(format, `the primary item declares a size of ${rawWidth}x${rawHeight}`);

  let width = rawWidth;
  let height = rawHeight;
  const transforms: HeifTransform[] = [];
  for (const property of associated) {
    const cursor = cursorOf(meta, property, format);
    if (property.type === "clap") {
      const widthN = cursor.u32();
      const widthD = cursor.u32();
      const heightN = cursor.u32();
      const heightD = cursor.u32();
      if (widthD === 0 || heightD === 0) throw malformed(format, "the clean aperture ('clap') has a zero denominator");
      // Rounded down, as libheif does; decoders clamp the crop to the image, so clamp here too.
      const cleanWidth = Math.min(width, Math.floor(widthN / widthD));
      const cleanHeight = Math.min(height, Math.floor(heightN / heightD));
      if (cleanWidth <= 0 || cleanHeight <= 0)
        throw malformed(format, `the clean aperture ('clap') is ${cleanWidth}x${cleanHeight}`);
      width = cleanWidth;
      height = cleanHeight;
    } else if (property.type === "irot") {
      const quarterTurns = cursor.u8() & 0x03;
      transforms.push({ kind: "irot", quarterTurns });
      if (quarterTurns % 2 === 1) [width, height] = [height, width];
    } else if (property.type === "imir") {
      transforms.push({ kind: "imir", axis: cursor.u8() & 0x01 });
    }
  }
  const orientation = orientationFromHeifTransforms(transforms);
  return { width, height, rawWidth, rawHeight, orientation };
}
