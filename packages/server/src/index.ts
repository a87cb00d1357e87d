export { startServer, type RunningServer, type Credentials } from "./server.js";
export { resolveConfig, DEFAULTS, type ServerConfig } from "./config.js";
export { buildApp } from "./app.js";
export { fsck, type FsckOptions, type FsckReport, type DamagedBlob, type AssetWithoutBytes } from "./store/fsck.js";
export { createOrganizationIn } from "./admin.js";
export {
  migrateDeployment,
  MigrationStoppedError,
  type MigrateOptions,
  type MigrateReport,
  type VerifyLevel,
} from "./migrate/migrate.js";
export { SourceInUseError } from "./migrate/endpoints.js";
