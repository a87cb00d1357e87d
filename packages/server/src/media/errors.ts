/**
 * The one error type the probe throws for anything wrong with the file's bytes.
 * The codes are the ingestion protocol's per-file codes, so the server can
 * report them as they are; `reason` is the human-readable sentence it puts in
 * the ingestion event's `messages` (the caller prefixes the filename).
 */
export type MediaErrorCode = "EBADMIME" | "ECORRUPT" | "EBADSIZE";

export class MediaError extends Error {
  readonly code: MediaErrorCode;
  readonly reason: string;

  constructor(code: MediaErrorCode, reason: string) {
    super(reason);
    this.name = "MediaError";
    this.code = code;
    this.reason = reason;
  }
}

/** Not an image of a supported format: the bytes decide, the extension never does. */
export function notAnImage(reason: string): MediaError {
  return new MediaError("EBADMIME", reason);
}

/** The file ends before the structure it declares: e.g. an upload cut short. */
export function truncated(format: string, detail: string): MediaError {
  return new MediaError("ECORRUPT", `${format} is truncated: ${detail}`);
}

/** The signature is right but a header is inconsistent or undecodable. */
export function malformed(format: string, detail: string): MediaError {
  return new MediaError("ECORRUPT", `${format} is malformed: ${detail}`);
}

export function tooManyPixels(width: number, height: number, maxPixels: number): MediaError {
  const pixels = width * height;
  return new MediaError(
    "EBADSIZE",
    `image is ${width}x${height} (${pixels.toLocaleString("en-US")} pixels), ` +
      `over the limit of ${maxPixels.toLocaleString("en-US")} pixels`,
  );
}
