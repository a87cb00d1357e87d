// Buckets of the scale-out test configuration: one fresh bucket per test server, removed with it.
import { createHash, randomBytes } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  S3Client,
} from "@aws-sdk/client-s3";

/** True when the run uses the scale-out configuration (global-setup started the S3 test server). */
export const scaleout = () => Boolean(process.env.VI_TEST_S3_ENDPOINT);

export function testS3Client() {
  return new S3Client({
    endpoint: process.env.VI_TEST_S3_ENDPOINT,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.VI_TEST_S3_ACCESS_KEY_ID ?? "S3RVER",
      secretAccessKey: process.env.VI_TEST_S3_SECRET_ACCESS_KEY ?? "S3RVER",
    },
  });
}

/**
 * The environment a server (in this process or a child) needs to use the S3 test server: the
 * AWS SDK's standard variables, as an operator would set them.
 */
export function s3Env(bucket) {
  return {
    VI_S3_BUCKET: bucket,
    VI_S3_ENDPOINT: process.env.VI_TEST_S3_ENDPOINT,
    VI_S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: process.env.VI_TEST_S3_ACCESS_KEY_ID ?? "S3RVER",
    AWS_SECRET_ACCESS_KEY: process.env.VI_TEST_S3_SECRET_ACCESS_KEY ?? "S3RVER",
    AWS_REGION: "us-east-1",
  };
}

/**
 * The CORS rule of a bucket the gallery uploads to (docs/deployment.md): the browser PUTs to
 * presigned URLs with the target's headers and follows 302s to presigned GETs, from any origin.
 */
export const GALLERY_CORS_RULE = {
  AllowedOrigins: ["*"],
  AllowedMethods: ["PUT", "GET", "HEAD"],
  AllowedHeaders: ["*"],
  ExposeHeaders: ["ETag"],
  MaxAgeSeconds: 3000,
};

async function allowGalleryCors(client, bucket) {
  await client.send(
    new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [GALLERY_CORS_RULE] } }),
  );
}

/** Creates a fresh bucket; answers its name and a function that empties and removes it. */
export async function createTestBucket() {
  const client = testS3Client();
  const bucket = `vi-test-${randomBytes(6).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await allowGalleryCors(client, bucket);
  return {
    bucket,
    client,
    async remove() {
      for (;;) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
        if (keys.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

/**
 * The bucket of a server process over `dataDir` (scale-out runs): named after the folder, so a
 * server restarted over the same folder (the crash tests) finds its bytes again. Created when
 * missing; s3rver's folder goes at the end of the run, these buckets with it.
 */
export async function bucketForDataDir(dataDir) {
  const bucket = `vi-proc-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}`;
  const client = testS3Client();
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await allowGalleryCors(client, bucket);
  } catch (err) {
    if (!["BucketAlreadyOwnedByYou", "BucketAlreadyExists"].includes(err.name)) throw err;
  } finally {
    client.destroy();
  }
  return bucket;
}

/**
 * For tests that only make sense on the local folder store (faults of the local disk, blob files
 * damaged in place): true in the scale-out configuration, with the reason noted once.
 */
export function localOnly(reason) {
  if (!scaleout()) return false;
  process.stderr.write(`skipped in scaleout: ${reason}\n`);
  return true;
}

/** A test's timeout: `ms` in the scale-out run (bytes go through the S3 test server), the default otherwise. */
export function scaleoutTimeout(ms) {
  return scaleout() ? ms : undefined;
}
