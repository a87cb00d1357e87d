import { createHash, createHmac } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

/**
 * SigV4 presigned PUTs and GETs of many keys, fast. The AWS SDK's presigner costs about 4 ms a URL (its
 * whole middleware stack runs each time), and a status read of a running session presigns a URL
 * per file still expected: 10,000 files took 40 s. Here the SDK presigns one URL at first use to
 * learn the store's origin and path layout (endpoint, path or virtual-host style, region), and
 * the rest is the SigV4 algorithm itself: one SHA-256 and one HMAC a URL, the signing key cached
 * per day. A gallery page of thumbnails, each a redirect to a presigned GET, is the same story.
 * `s3-presign.test.ts` checks that it produces the SDK's own URLs, byte for byte.
 */
export class FastPresigner {
  private layout: Promise<{ origin: string; pathPrefix: string; host: string; region: string }> | undefined;
  private signingKey: { scope: string; secret: string; key: Buffer } | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * A presigned PUT of `key` with the CRC-32C header signed (`checksum`, base64), valid
   * `expiresIn` seconds from `now`.
   */
  presignPut(key: string, checksum: string, expiresIn: number, now = new Date()): Promise<string> {
    return this.presign("PUT", key, [["x-id", "PutObject"]], { "x-amz-checksum-crc32c": checksum }, expiresIn, now);
  }

  /**
   * A presigned GET of `key` whose answer carries the given content type and disposition (the
   * store sets them from the signed `response-*` parameters), valid `expiresIn` seconds.
   */
  presignGet(
    key: string,
    response: { contentType: string; contentDisposition: string },
    expiresIn: number,
    now = new Date(),
  ): Promise<string> {
    const query: [string, string][] = [
      ["response-content-disposition", response.contentDisposition],
      ["response-content-type", response.contentType],
      ["x-id", "GetObject"],
    ];
    return this.presign("GET", key, query, {}, expiresIn, now);
  }

  /** SigV4 query signing: `headers` (lower-case names) are signed beside `host` and must be sent. */
  private async presign(
    method: "GET" | "PUT",
    key: string,
    params: [string, string][],
    headers: Record<string, string>,
    expiresIn: number,
    now: Date,
  ): Promise<string> {
    const { origin, pathPrefix, host, region } = await this.learnLayout();
    const creds = await this.client.config.credentials();
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${region}/s3/aws4_request`;
    const path = pathPrefix + key.split("/").map(encodeRfc3986).join("/");
    const signed = [["host", host], ...Object.entries(headers)].sort(([a], [b]) => (a! < b! ? -1 : 1));
    const signedHeaders = signed.map(([name]) => name).join(";");
    const query: [string, string][] = [
      ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
      ["X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"],
      ["X-Amz-Credential", `${creds.accessKeyId}/${scope}`],
      ["X-Amz-Date", amzDate],
      ["X-Amz-Expires", String(expiresIn)],
      ...(creds.sessionToken ? ([["X-Amz-Security-Token", creds.sessionToken]] as [string, string][]) : []),
      ["X-Amz-SignedHeaders", signedHeaders],
      ...params,
    ];
    const canonicalQuery = query
      .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
    const canonicalRequest = [
      method,
      path,
      canonicalQuery,
      signed.map(([name, value]) => `${name}:${value}\n`).join(""),
      signedHeaders,
      "UNSIGNED-PAYLOAD",
    ].join("\n");
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
    const signature = createHmac("sha256", this.keyFor(scope, day, region, creds.secretAccessKey))
      .update(stringToSign)
      .digest("hex");
    return `${origin}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
  }

  private keyFor(scope: string, day: string, region: string, secret: string): Buffer {
    if (this.signingKey?.scope !== scope || this.signingKey.secret !== secret) {
      const kDate = hmac(`AWS4${secret}`, day);
      const key = hmac(hmac(hmac(kDate, region), "s3"), "aws4_request");
      this.signingKey = { scope, secret, key };
    }
    return this.signingKey.key;
  }

  /** Where the store puts this bucket's keys, learnt from one URL the SDK presigns. */
  private learnLayout() {
    this.layout ??= (async () => {
      const probe = "vi-presign-probe";
      const url = new URL(
        await getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: probe }), { expiresIn: 60 }),
      );
      if (!url.pathname.endsWith(`/${probe}`)) throw new Error(`unexpected presigned URL layout: ${url.pathname}`);
      const region = /\/\d{8}\/([^/]+)\/s3\/aws4_request$/.exec(url.searchParams.get("X-Amz-Credential") ?? "")?.[1];
      if (!region) throw new Error("the presigned URL names no region");
      return {
        origin: url.origin,
        pathPrefix: url.pathname.slice(0, -probe.length),
        host: url.host,
        region,
      };
    })();
    return this.layout;
  }
}

const hmac = (key: string | Buffer, data: string): Buffer => createHmac("sha256", key).update(data).digest();
const sha256Hex = (data: string): string => createHash("sha256").update(data).digest("hex");

/** SigV4's URI encoding: everything but unreserved characters, as %XX in upper case. */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
