import { Type, type Static, type TSchema } from "typebox";

/** IDs are 1..255 characters of [A-Za-z0-9-]: no `_`, because `_` joins `{orgId}_{datasetId}`. */
export const ID_PATTERN = "^[A-Za-z0-9-]{1,255}$";
export const Id = Type.String({ pattern: ID_PATTERN });

/** Epoch milliseconds: every time on the wire. */
export const EpochMs = Type.Integer({ minimum: 0, description: "epoch milliseconds" });

/** Secret keys: `dtvi_` + 98 URL-safe characters, 103 in all (the Python client refuses other shapes). */
export const SECRET_KEY_PREFIX = "dtvi_";
export const SECRET_KEY_LENGTH = 103;
export const SECRET_KEY_PATTERN = /^dtvi_[A-Za-z0-9_-]{98}$/;

/** The page envelope of every list endpoint. Tokens are opaque keyset cursors. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextPage: Type.Union([Type.String(), Type.Null()]),
    prevPage: Type.Union([Type.String(), Type.Null()]),
    totalCount: Type.Optional(Type.Integer({ minimum: 0 })),
  });
export interface PageOf<T> {
  items: T[];
  nextPage: string | null;
  prevPage: string | null;
  totalCount?: number;
}

/** Metadata shared by server resources (ResourceMetadata in the Python client). */
export const ResourceMetadata = Type.Object({
  timeCreated: EpochMs,
  lastUpdated: EpochMs,
  generation: Type.Integer({ minimum: 0 }),
  attributes: Type.Record(Type.String(), Type.String()),
});
export type ResourceMetadata = Static<typeof ResourceMetadata>;

/** Custom metadata values are strings, numbers or booleans. */
export const CustomMetadataValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
export const CustomMetadata = Type.Record(Type.String(), CustomMetadataValue);
export type CustomMetadata = Static<typeof CustomMetadata>;

/** `y` when a flag is set; absent otherwise. */
export const Flag = Type.Optional(Type.Literal("y"));

export const dataPathId = (orgId: string, datasetId: string): string => `${orgId}_${datasetId}`;

/** Splits the composite `{orgId}_{datasetId}`; undefined when it is not one. */
export function splitDataPathId(composite: string): { orgId: string; datasetId: string } | undefined {
  const at = composite.indexOf("_");
  if (at <= 0 || at === composite.length - 1 || composite.indexOf("_", at + 1) !== -1) return undefined;
  return { orgId: composite.slice(0, at), datasetId: composite.slice(at + 1) };
}
