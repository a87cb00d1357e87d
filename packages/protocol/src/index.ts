/**
 * The wire contract for clients: constants, paths and types, with no runtime dependency.
 * The schemas themselves (for validation and OpenAPI) are in `@vi/protocol/schemas`.
 */
export * from "./constants.js";
export * from "./paths.js";
export type * from "./common.js";
export type * from "./errors.js";
export type * from "./condition.js";
export type * from "./organization.js";
export type * from "./dataset.js";
export type * from "./asset.js";
export type * from "./ingestion.js";
export type * from "./annotation.js";
export type * from "./bulk-delete.js";
