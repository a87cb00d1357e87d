export function adminUrl(): string | undefined;
export function scaleout(): boolean;
export function embeddedOnly(reason: string): boolean;
export function createTestDatabase(name?: string): Promise<{ url: string; drop(): Promise<void> }>;
export function databaseForDataDir(dataDir: string): Promise<string>;
export function serverEnv(dataDir: string): Promise<{ VI_DATABASE_URL?: string }>;
export function textOfTables(url: string, tables: string[]): Promise<string>;
export function openStoreReader(
  dataDir: string,
): Promise<{ all(sql: string): Promise<Record<string, unknown>[]>; close(): Promise<void> }>;
