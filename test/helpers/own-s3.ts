import { afterAll, beforeAll } from "vitest";
import { startS3TestServer } from "../services/s3.mjs";

/**
 * For tests about the S3 store that must run in the default run too: when the run has no S3 test
 * server (only the scale-out run starts one), starts one of this file's own and points the run's
 * VI_TEST_S3_* variables at it. Answers how to stop it again (a no-op when the run had one).
 */
export async function ensureS3TestServer(): Promise<() => Promise<void>> {
  if (process.env.VI_TEST_S3_ENDPOINT) return async () => undefined;
  const own = await startS3TestServer();
  process.env.VI_TEST_S3_ENDPOINT = own.endpoint;
  process.env.VI_TEST_S3_ACCESS_KEY_ID = own.accessKeyId;
  process.env.VI_TEST_S3_SECRET_ACCESS_KEY = own.secretAccessKey;
  return async () => {
    delete process.env.VI_TEST_S3_ENDPOINT;
    await own.stop();
  };
}

/** `ensureS3TestServer` for a whole test file: started before its tests, stopped after them. */
export function useS3TestServer(): void {
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    stop = await ensureS3TestServer();
  });
  afterAll(async () => stop?.());
}
