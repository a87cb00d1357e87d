export declare const S3_TEST_CREDENTIALS: { accessKeyId: string; secretAccessKey: string };
export declare function startS3TestServer(): Promise<{
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}>;
