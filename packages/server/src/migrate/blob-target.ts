import { join, resolve } from "node:path";
import type { BlobStore } from "../store/blob/blob-store.js";
import { LocalBlobStore } from "../store/blob/local.js";

/** Where the moved deployment keeps its bytes. */
export type BlobDestination =
  { kind: "local"; dataDir: string } | { kind: "s3"; bucket: string; endpoint?: string; forcePathStyle?: boolean };

/**
 * The S3-compatible store (`S3BlobStore` in store/blob/s3.ts) is built beside this work, in
 * another branch: it is loaded by name at runtime, so this build compiles and runs without it
 * and refuses an S3 destination clearly until it is there.
 */
const S3_MODULE = "../store/blob/s3.js";

interface S3Module {
  S3BlobStore: new (
    options: { bucket: string; endpoint?: string; forcePathStyle?: boolean },
    scratchDir: string,
  ) => BlobStore & { init(): Promise<void> };
}

/**
 * Opens the destination's blob store. A local folder is the embedded store's own layout (`blobs/`
 * and `staging/` under the folder), so the new server runs with `VI_DATA_DIR` set to it. A bucket
 * is reached with the AWS SDK's standard credential chain; its bytes are measured in a scratch
 * folder under `scratchRoot` (the source's data folder) on their way, as the server does.
 */
export async function openBlobDestination(destination: BlobDestination, scratchRoot: string): Promise<BlobStore> {
  if (destination.kind === "s3") {
    const s3 = (await import(S3_MODULE).catch(() => undefined)) as S3Module | undefined;
    if (!s3?.S3BlobStore) {
      throw new Error(
        `S3 store not available in this build: cannot move the files to bucket ${destination.bucket}. ` +
          "Leave out --s3-bucket to keep them in a local folder (--to-data-dir)",
      );
    }
    const { kind: _kind, ...options } = destination;
    const store = new s3.S3BlobStore(options, join(scratchRoot, "scratch"));
    await store.init();
    return store;
  }
  const store = new LocalBlobStore(resolve(destination.dataDir));
  await store.init();
  return store;
}
