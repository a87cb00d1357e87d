/**
 * EXIF orientation (TIFF tag 0x0112): how the stored pixel grid must be
 * transformed for display. Values 5..8 involve a quarter turn, so the displayed
 * width and height are the stored height and width.
 */
export const ORIENTATION_TAG = 0x0112;

export function isValidOrientation(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 8;
}

export function swapsAxes(orientation: number): boolean {
  return orientation >= 5 && orientation <= 8;
}

/** Displayed size of a stored grid under an orientation. */
export function displayedSize(
  rawWidth: number,
  rawHeight: number,
  orientation: number,
): { width: number; height: number } {
  return swapsAxes(orientation) ? { width: rawHeight, height: rawWidth } : { width: rawWidth, height: rawHeight };
}

/**
 * Reads the Orientation tag from IFD0 of an EXIF payload (a TIFF header and
 * IFD, as found after "Exif\0\0" in a JPEG APP1 segment). Metadata is advisory:
 * anything unreadable or out of range yields 1 rather than an error, the way
 * viewers ignore a broken EXIF block and still show the image.
 */
export function orientationFromExif(tiff: Buffer): number {
  if (tiff.length < 8) return 1;
  const order = tiff.toString("latin1", 0, 2);
  if (order !== "II" && order !== "MM") return 1;
  const little = order === "II";
  const u16 = (at: number): number => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number): number => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > tiff.length) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (u16(entry) !== ORIENTATION_TAG) continue;
    const type = u16(entry + 2);
    // SHORT is what the standard says; some writers use LONG. The value sits in the entry itself.
    const value = type === 3 ? u16(entry + 8) : type === 4 ? u32(entry + 8) : 0;
    return isValidOrientation(value) ? value : 1;
  }
  return 1;
}

/*
 * HEIF has no EXIF orientation; it carries 'irot' (anticlockwise quarter turns)
 * and 'imir' (mirror) transform properties, applied in order. To report them
 * in the same vocabulary as JPEG and TIFF, compose them as 2x2 integer matrices
 * acting on screen coordinates (x right, y down) and map the result back to the
 * EXIF value with the same matrix.
 */
type Matrix = readonly [number, number, number, number]; // [a, b, c, d]: (x, y) -> (a x + b y, c x + d y)

const EXIF_MATRICES: readonly Matrix[] = [
  [1, 0, 0, 1], // 1: as stored
  [-1, 0, 0, 1], // 2: mirror horizontally
  [-1, 0, 0, -1], // 3: rotate 180
  [1, 0, 0, -1], // 4: mirror vertically
  [0, 1, 1, 0], // 5: transpose (mirror horizontally, then rotate 270 clockwise)
  [0, -1, 1, 0], // 6: rotate 90 clockwise
  [0, -1, -1, 0], // 7: transverse (mirror horizontally, then rotate 90 clockwise)
  [0, 1, -1, 0], // 8: rotate 270 clockwise
];

function multiply(after: Matrix, before: Matrix): Matrix {
  const [a, b, c, d] = after;
  const [e, f, g, h] = before;
  return [a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h];
}

/** One HEIF display transform: an 'irot' anticlockwise angle in quarter turns, or an 'imir' axis. */
export type HeifTransform = { kind: "irot"; quarterTurns: number } | { kind: "imir"; axis: number };

export function orientationFromHeifTransforms(transforms: readonly HeifTransform[]): number {
  let matrix: Matrix = [1, 0, 0, 1];
  for (const transform of transforms) {
    let step: Matrix;
    if (transform.kind === "irot") {
      // Anticlockwise n quarter turns = clockwise (4 - n) quarter turns.
      const clockwise = (4 - (transform.quarterTurns & 3)) & 3;
      step = (
        [
          [1, 0, 0, 1],
          [0, -1, 1, 0],
          [-1, 0, 0, -1],
          [0, 1, -1, 0],
        ] as const
      )[clockwise] ?? [1, 0, 0, 1];
    } else {
      // axis 0 is a vertical axis (left and right swap), axis 1 a horizontal one.
      step = transform.axis === 0 ? [-1, 0, 0, 1] : [1, 0, 0, -1];
    }
    matrix = multiply(step, matrix);
  }
  const index = EXIF_MATRICES.findIndex((m) => m.every((value, i) => value === matrix[i]));
  return index + 1;
}
