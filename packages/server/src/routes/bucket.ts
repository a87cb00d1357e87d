import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { MultipartComplete } from "@vi/protocol/schemas";
import type { MultipartComplete as MultipartCompleteBody } from "@vi/protocol";
import { ApiError } from "../errors.js";
import type { ServedBlob } from "../services/asset-service.js";
import { multipartPath } from "../services/presigned-uploads.js";
import type { ServiceContext } from "../services/context.js";
import type { Services } from "../services/services.js";

/**
 * With an S3 store the API's signed download and thumbnail URLs stay what clients get (they end
 * in the file's name, which the Python client names the file after) and answer a redirect to a
 * presigned GET of the bytes' content address, expiring when the API URL does: the bytes never
 * pass through the API server. The presigned GET carries the name and type for the store to
 * answer with; Range requests go to the store as they are.
 */
export async function redirectToBucket(
  ctx: ServiceContext,
  reply: FastifyReply,
  served: ServedBlob,
  expiresAt: number,
): Promise<FastifyReply> {
  const bucket = ctx.bucket!;
  const url = await bucket.presignGet(served.sha256, expiresAt, served.filename, served.mimeType);
  return reply.code(302).header("location", url).header("cache-control", "private, no-store").send();
}

interface SignedQuery {
  expires?: string;
  signature?: string;
}

const forbidden = (message: string) =>
  new ApiError("PermissionDenied", message, "Ask the API for a fresh upload target (upload session status).");

/** [ext] The multipart upload calls of large files (S3 store only): start, then complete. */
export const multipartRoutes =
  (ctx: ServiceContext, services: Services): FastifyPluginAsync =>
  async (app) => {
    const presigned = services.presigned;
    if (!presigned) return;
    const check = (path: string, query: SignedQuery) => {
      const result = ctx.signer.verify("upload", path, query.expires, query.signature);
      if (result === "invalid") throw forbidden("The upload URL's signature is not valid");
      if (result === "expired") throw forbidden("The upload URL has expired");
    };
    const indexOf = (text: string) => {
      if (!/^(0|[1-9][0-9]{0,8})$/.test(text)) throw forbidden("The upload URL's signature is not valid");
      return Number(text);
    };

    app.post<{ Params: { sessionId: string; fileIndex: string }; Querystring: SignedQuery }>(
      "/uploads/:sessionId/:fileIndex/multipart",
      { schema: { hide: true } },
      async (request) => {
        const { sessionId } = request.params;
        const fileIndex = indexOf(request.params.fileIndex);
        check(multipartPath(sessionId, fileIndex), request.query);
        return presigned.startMultipart(sessionId, fileIndex);
      },
    );

    app.post<{
      Params: { sessionId: string; fileIndex: string };
      Querystring: SignedQuery;
      Body: MultipartCompleteBody;
    }>(
      "/uploads/:sessionId/:fileIndex/multipart/complete",
      { schema: { hide: true, body: MultipartComplete } },
      async (request, reply) => {
        const { sessionId } = request.params;
        const fileIndex = indexOf(request.params.fileIndex);
        check(`${multipartPath(sessionId, fileIndex)}/complete`, request.query);
        await presigned.completeMultipart(sessionId, fileIndex, request.body.uploadId, request.body.parts);
        return reply.code(202).send();
      },
    );
  };
