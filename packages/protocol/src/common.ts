import { Type, type Static, type TSchema } from "typebox";
import { ID_PATTERN } from "./constants.js";

export const Id = Type.String({ pattern: ID_PATTERN });

/** Epoch milliseconds: every time on the wire. */
export const EpochMs = Type.Integer({ minimum: 0, description: "epoch milliseconds" });

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
