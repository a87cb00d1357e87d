import type { S3Client } from "@aws-sdk/client-s3";
export declare const scaleout: () => boolean;
export declare function testS3Client(): S3Client;
export declare function s3Env(bucket: string): Record<string, string>;
export declare function createTestBucket(): Promise<{ bucket: string; client: S3Client; remove(): Promise<void> }>;
export declare function localOnly(reason: string): boolean;
export declare function bucketForDataDir(dataDir: string): Promise<string>;
export declare function scaleoutTimeout(ms: number): number | undefined;
