import { resolve } from "node:path";
import type { BlobStore } from "../store/blob/blob-store.js";
import { LocalBlobStore } from "../store/blob/local.js";

/** Where the moved deployment keeps its bytes. */
export type BlobDestination =
  { kind: "local"; dataDir: string } | { kind: "s3"; bucket: string; endpoint?: string; forcePathStyle?: boolean };

/**
 * Opens the destination's blob store. A local folder is the embedded store's own layout (`blobs/`
 * and `staging/` under the folder), so the new server runs with `VI_DATA_DIR` set to it.
 *
 * S3: the S3-compatible store (`S3BlobStore`, store/blob/s3.ts) is built beside this work; this
 * build has none, so the seam refuses clearly. Once it is merged, construct it here from the
 * bucket, endpoint and path style (credentials come from the AWS SDK's standard chain): the copy
 * and the verification only use the `BlobStore` interface.
 */
export async function openBlobDestination(destination: BlobDestination): Promise<BlobStore> {
  if (destination.kind === "s3") {
    throw new Error(
      `S3 store not available in this build: cannot move the blobs to bucket ${destination.bucket}. ` +
        "Leave out --s3-bucket to keep them in a local folder (--to-data-dir)",
    );
  }
  const store = new LocalBlobStore(resolve(destination.dataDir));
  await store.init();
  return store;
}
