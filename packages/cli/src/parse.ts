import { InvalidArgumentError } from "commander";

/** A commander argParser for an integer within [min, max]; a bad value is a usage error (exit 2). */
export function intInRange(min: number, max: number = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const trimmed = value.trim();
    if (!/^[+-]?\d+$/.test(trimmed)) throw new InvalidArgumentError("expected an integer.");
    const n = Number(trimmed);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
      throw new InvalidArgumentError(`expected an integer ${range}.`);
    }
    return n;
  };
}

/** A commander argParser for a non-negative number (seconds, may be fractional). */
export function nonNegativeNumber(value: string): number {
  const trimmed = value.trim();
  const n = trimmed === "" ? NaN : Number(trimmed);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("expected a number of seconds (0 or more).");
  return n;
}

/** A commander argParser for a JSON object (e.g. `--filter '{"status":"error"}'`). */
export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    throw new InvalidArgumentError(`expected a JSON object: ${(e as Error).message}.`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError(
      `expected a JSON object, got ${Array.isArray(parsed) ? "an array" : JSON.stringify(parsed)}.`,
    );
  return parsed as Record<string, unknown>;
}

export type MetadataValue = string | number | boolean;

/**
 * A repeatable `--metadata key=value` (string values), accumulated into one object.
 */
export function metadataPair(
  value: string,
  previous: Record<string, MetadataValue> | undefined,
): Record<string, MetadataValue> {
  const at = value.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got '${value}'.`);
  return { ...(previous ?? {}), [value.slice(0, at)]: value.slice(at + 1) };
}

/** `--metadata-json '{"camera": "a", "iso": 200, "night": true}'`: typed values. */
export function metadataObject(value: string): Record<string, MetadataValue> {
  const obj = jsonObject(value);
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean")
      throw new InvalidArgumentError(`metadata values must be strings, numbers or booleans; '${k}' is not.`);
  }
  return obj as Record<string, MetadataValue>;
}

/** Drops the keys whose value is undefined (so SDK calls carry only what the user gave). */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * `--metadata-json` of an update: a JSON object whose values are strings, numbers, booleans or
 * null (null removes the key); the types are kept as given.
 */
export function metadataPatchObject(value: string): Record<string, MetadataValue | null> {
  const obj = jsonObject(value);
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean")
      throw new InvalidArgumentError(
        `metadata values must be strings, numbers, booleans or null (to remove); '${k}' is not.`,
      );
  }
  return obj as Record<string, MetadataValue | null>;
}

/** A repeatable option collecting its values (`--unset a --unset b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  if (value === "") throw new InvalidArgumentError("expected a non-empty value.");
  return [...(previous ?? []), value];
}

/** `--bbox x0,y0,x1,y1`: four numbers. */
export function bboxArg(value: string): [number, number, number, number] {
  const parts = value.split(",").map((p) => p.trim());
  const numbers = parts.map((p) => (p === "" ? NaN : Number(p)));
  if (numbers.length !== 4 || !numbers.every(Number.isFinite))
    throw new InvalidArgumentError(`expected four numbers x0,y0,x1,y1, got '${value}'.`);
  return numbers as [number, number, number, number];
}
