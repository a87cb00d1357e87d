import { CUSTOM_METADATA_LIMITS, type CustomMetadata } from "@vi/protocol";
import { ApiError } from "../errors.js";

const CONTROL = /[\u0000-\u001f\u007f]/;
/** An unpaired surrogate has no UTF-8 form: stored, it would be mangled, and no query could match it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The bounds on one asset's custom metadata: key count, key length and characters, string
 * length, finite numbers. A violation is a 400 that names where (`owner`: the asset or the file)
 * and which key, so the caller can fix that entry.
 */
export function checkCustomMetadata(meta: CustomMetadata, owner: string): void {
  const { maxKeys, maxKeyLength, maxStringLength, maxBytes } = CUSTOM_METADATA_LIMITS;
  const keys = Object.keys(meta);
  const fail = (message: string, key?: string): never => {
    throw new ApiError(
      "ValidationFailed",
      `${owner}: ${message}`,
      `Custom metadata allows at most ${maxKeys} keys of 1 to ${maxKeyLength} characters, with strings of at most ${maxStringLength} characters, finite numbers or booleans, ${maxBytes} bytes in all as JSON.`,
      { field: key === undefined ? "customMetadata" : `customMetadata.${key}`, ...(key !== undefined ? { key } : {}) },
    );
  };
  if (keys.length > maxKeys) fail(`custom metadata has ${keys.length} keys; at most ${maxKeys} are allowed`);
  const bytes = Buffer.byteLength(JSON.stringify(meta));
  if (bytes > maxBytes) fail(`custom metadata is ${bytes} bytes as JSON; at most ${maxBytes} are allowed`);
  for (const key of keys) {
    if (key.length === 0 || key.length > maxKeyLength) {
      fail(`custom metadata key '${key.slice(0, 40)}' must be 1 to ${maxKeyLength} characters long`, key);
    }
    if (CONTROL.test(key)) fail(`custom metadata key ${JSON.stringify(key)} contains a control character`, key);
    if (LONE_SURROGATE.test(key))
      fail(`custom metadata key ${JSON.stringify(key)} contains an unpaired surrogate`, key);
    const value: unknown = meta[key];
    if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) fail(`custom metadata '${key}' contains an unpaired surrogate`, key);
      if (value.length > maxStringLength) {
        fail(
          `custom metadata '${key}' is ${value.length} characters long; at most ${maxStringLength} are allowed`,
          key,
        );
      }
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) fail(`custom metadata '${key}' must be a finite number`, key);
    } else if (typeof value !== "boolean") {
      fail(`custom metadata '${key}' must be a string, a number or a boolean`, key);
    }
  }
}
