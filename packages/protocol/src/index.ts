export * from "./common.js";
export * from "./errors.js";
export * from "./organization.js";
export * from "./dataset.js";
export * from "./asset.js";
export * from "./ingestion.js";
export * from "./annotation.js";
export * from "./paths.js";
