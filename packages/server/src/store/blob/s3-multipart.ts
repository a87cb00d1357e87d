import { createReadStream } from "node:fs";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  S3ServiceException,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

/** Part size of the server's own uploads of large verified bodies. */
const SERVER_PART_SIZE = 64 * 1024 * 1024;
/** S3's bounds: parts of 5 MiB at least (but the last), at most 10,000 parts. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** Files above this get a multipart target besides the single presigned PUT. */
export const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024;

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/** The part size for a client's upload of `size` bytes: 16 MiB, or more when that needs over 10,000 parts. */
export function partSizeFor(size: number): number {
  const base = 16 * 1024 * 1024;
  return Math.max(base, Math.ceil(size / MAX_PARTS / MIN_PART_SIZE) * MIN_PART_SIZE);
}

/** S3 multipart uploads: the server's own (large verified bodies) and clients' (presigned parts). */
export class S3Multipart {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /** Uploads a local file in parts; aborts the upload on failure so no parts are left billed. */
  async putFile(key: string, path: string, size: number): Promise<void> {
    const uploadId = await this.create(key);
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, partNumber = 1; start < size; start += SERVER_PART_SIZE, partNumber++) {
        const end = Math.min(size, start + SERVER_PART_SIZE);
        const res = await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            ContentLength: end - start,
            Body: createReadStream(path, { start, end: end - 1 }),
          }),
        );
        parts.push({ partNumber, etag: res.ETag ?? "" });
      }
      await this.complete(key, uploadId, parts);
    } catch (err) {
      await this.abort(key, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async create(key: string): Promise<string> {
    const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    if (!res.UploadId) throw new Error("the store answered no multipart upload id");
    return res.UploadId;
  }

  presignPart(key: string, uploadId: string, partNumber: number, expiresIn: number): Promise<string> {
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
    });
    return getSignedUrl(this.client, command, { expiresIn });
  }

  /**
   * Completes an upload with the parts the store lists (ListParts), so the client's word on
   * ETags is not needed; stores without ListParts (s3rver) fall back to the parts the client
   * reported. Either way the object is verified byte by byte before it becomes an asset.
   */
  async complete(key: string, uploadId: string, reported: CompletedPart[]): Promise<void> {
    const parts = (await this.listParts(key, uploadId)) ?? reported;
    if (parts.length === 0) throw new Error("no parts were uploaded");
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: {
          Parts: [...parts]
            .sort((a, b) => a.partNumber - b.partNumber)
            .map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })),
        },
      }),
    );
  }

  /** The uploaded parts, or undefined when the store does not implement ListParts. */
  private async listParts(key: string, uploadId: string): Promise<CompletedPart[] | undefined> {
    const parts: CompletedPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        );
        for (const p of res.Parts ?? []) {
          if (p.PartNumber && p.ETag) parts.push({ partNumber: p.PartNumber, etag: p.ETag });
        }
        marker = res.IsTruncated ? res.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (err) {
      const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
      if (status === 405 || status === 501) return undefined;
      throw err;
    }
    return parts;
  }

  async abort(key: string, uploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
  }
}
