import { join, resolve } from "node:path";
import type { BlobStore } from "../store/blob/blob-store.js";
import { LocalBlobStore } from "../store/blob/local.js";
import { S3BlobStore } from "../store/blob/s3.js";

/** Where the moved deployment keeps its bytes. */
export type BlobDestination =
  { kind: "local"; dataDir: string } | { kind: "s3"; bucket: string; endpoint?: string; forcePathStyle?: boolean };

/**
 * Opens the destination's blob store. A local folder is the embedded store's own layout (`blobs/`
 * and `staging/` under the folder), so the new server runs with `VI_DATA_DIR` set to it. A bucket
 * is reached with the AWS SDK's standard credential chain; its bytes are measured in a scratch
 * folder under `scratchRoot` (the source's data folder) on their way, as the server does.
 */
export async function openBlobDestination(destination: BlobDestination, scratchRoot: string): Promise<BlobStore> {
  if (destination.kind === "s3") {
    const { kind: _kind, ...options } = destination;
    const store = new S3BlobStore(options, join(scratchRoot, "scratch"));
    await store.init();
    return store;
  }
  const store = new LocalBlobStore(resolve(destination.dataDir));
  await store.init();
  return store;
}
