import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startPostgres } from "./services/postgres.mjs";

/**
 * Removes the run's own digest cache (vitest.config.ts sets VI_CACHE_DIR for every test). With
 * VI_TEST_BACKEND=scaleout, starts a throwaway PostgreSQL for the run and hands its
 * administrator's URL to the test workers as VI_TEST_DATABASE_URL (set here, before any
 * worker starts, so workers and the servers they spawn inherit it), and stops it at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cacheDir = project.config.env?.VI_CACHE_DIR;
  const postgres = process.env.VI_TEST_BACKEND === "scaleout" ? await startPostgres() : undefined;
  if (postgres) process.env.VI_TEST_DATABASE_URL = postgres.url;
  return async () => {
    await postgres?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  };
}
