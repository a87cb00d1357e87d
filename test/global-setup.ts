import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startPostgres } from "./services/postgres.mjs";
import { startS3TestServer } from "./services/s3.mjs";

/**
 * Removes the run's own digest cache (vitest.config.ts sets VI_CACHE_DIR for every test). With
 * VI_TEST_BACKEND=scaleout it also starts a throwaway PostgreSQL and an S3-compatible test server
 * on loopback, and tells the workers where (VI_TEST_DATABASE_URL, an administrator's URL;
 * VI_TEST_S3_ENDPOINT and its credentials): every test server then gets a database and a bucket
 * of its own. Set here, before any worker starts, so workers and the servers they spawn inherit
 * them; both are stopped at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cacheDir = project.config.env?.VI_CACHE_DIR;
  const scaleout = process.env.VI_TEST_BACKEND === "scaleout";
  const postgres = scaleout ? await startPostgres() : undefined;
  const s3 = scaleout ? await startS3TestServer().catch(stopFirst(postgres)) : undefined;
  if (postgres) process.env.VI_TEST_DATABASE_URL = postgres.url;
  if (s3) {
    process.env.VI_TEST_S3_ENDPOINT = s3.endpoint;
    process.env.VI_TEST_S3_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.VI_TEST_S3_SECRET_ACCESS_KEY = s3.secretAccessKey;
  }
  return async () => {
    await s3?.stop();
    await postgres?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  };
}

/** A failed start of the second service stops the first, then fails the run. */
function stopFirst(service: { stop(): Promise<void> } | undefined) {
  return async (err: unknown): Promise<never> => {
    await service?.stop();
    throw err;
  };
}
