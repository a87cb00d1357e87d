import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";
import { startS3TestServer } from "./services/s3.mjs";

/**
 * Removes the run's own digest cache (vitest.config.ts sets VI_CACHE_DIR for every test). With
 * VI_TEST_BACKEND=scaleout it also starts an S3-compatible test server on loopback and tells the
 * workers where (VI_TEST_S3_ENDPOINT and its credentials): every test server then keeps its
 * bytes in a bucket of its own (test/helpers/s3.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cacheDir = project.config.env?.VI_CACHE_DIR;
  const s3 = process.env.VI_TEST_BACKEND === "scaleout" ? await startS3TestServer() : undefined;
  if (s3) {
    // Workers are started after this and inherit the environment.
    process.env.VI_TEST_S3_ENDPOINT = s3.endpoint;
    process.env.VI_TEST_S3_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.VI_TEST_S3_SECRET_ACCESS_KEY = s3.secretAccessKey;
  }
  return async () => {
    await s3?.stop();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  };
}
