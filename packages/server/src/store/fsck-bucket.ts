import { createHash } from "node:crypto";
import { CopyObjectCommand } from "@aws-sdk/client-s3";
import { join } from "node:path";
import type { S3Config } from "../config.js";
import { S3BlobStore } from "./blob/s3.js";

/** Where fsck finds the bytes it checks: the local folder or a bucket. */
export interface BlobSource {
  /** The names stored under one shard (the first two hex digits). */
  list(shard: string): Promise<string[]>;
  /** How a stray name is reported. */
  display(shard: string, name: string): string;
  /** The bytes' SHA-256 and size; undefined when the name is not a blob (a folder). */
  hash(shard: string, sha256: string): Promise<{ digest: string; size: number } | undefined>;
  /** Moves damaged bytes aside; answers where they went. */
  quarantine(shard: string, sha256: string): Promise<string>;
  stagingCount(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A bucket: `blobs/<sha256>` listed by shard prefix, each object read back and hashed; damaged
 * bytes are copied to `quarantine/<sha256>` and removed from their content address.
 */
export async function bucketSource(config: S3Config, dataDir: string): Promise<BlobSource> {
  const store = new S3BlobStore(config, join(dataDir, "scratch"));
  const prefix = store.blobKey("0".repeat(64)).slice(0, -64);
  const base = prefix.slice(0, -"blobs/".length);
  return {
    async list(shard) {
      const names: string[] = [];
      for await (const o of store.listKeys(`${prefix}${shard}`)) names.push(o.key.slice(prefix.length));
      return names;
    },
    display: (_shard, name) => `blobs/${name}`,
    async hash(_shard, sha256) {
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of store.read(sha256) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
      }
      return { digest: hash.digest("hex"), size };
    },
    async quarantine(_shard, sha256) {
      const target = `${base}quarantine/${sha256}.${Date.now()}`;
      await store.client.send(
        new CopyObjectCommand({
          Bucket: store.bucket,
          Key: target,
          CopySource: `${store.bucket}/${store.blobKey(sha256)}`,
        }),
      );
      await store.delete(sha256);
      return `s3://${store.bucket}/${target}`;
    },
    async stagingCount() {
      let n = 0;
      for await (const _ of store.listStaging()) n++;
      return n;
    },
    close: () => store.close(),
  };
}
