import { rm } from "node:fs/promises";
import type { TestProject } from "vitest/node";

/** Removes the run's own digest cache (vitest.config.ts sets VI_CACHE_DIR for every test). */
export default function setup(project: TestProject): () => Promise<void> {
  const cacheDir = project.config.env?.VI_CACHE_DIR;
  return async () => {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  };
}
