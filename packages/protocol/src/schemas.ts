/** The TypeBox schemas of the wire contract: the server validates with them and generates OpenAPI from them. */
export * from "./common.js";
export * from "./errors.js";
export * from "./condition.js";
export * from "./organization.js";
export * from "./dataset.js";
export * from "./asset.js";
export * from "./ingestion.js";
export * from "./annotation.js";
export * from "./bulk-delete.js";
