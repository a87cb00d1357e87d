import { BulkAssetDeletionSession, BulkDeleteStatusQuery, CreateBulkDeleteRequest } from "@vi/protocol/schemas";
import { Type } from "typebox";
import { datasetOf } from "../http/auth.js";
import { presentDeletionSession } from "../http/presenters.js";
import type { DeletionService } from "../services/deletion-service.js";
import { DatasetParams, errors, security, type TypedApp } from "./common.js";

const SessionParams = Type.Object({ org: Type.String(), D: Type.String(), id: Type.String() });

/** Bulk delete by selection (PROTOCOL.md §5): open a session, then read or long-poll it. */
export function registerBulkDeleteRoutes(app: TypedApp, deletions: DeletionService): void {
  const path = "/workspaces/:org/datasets/:D/deleteManyAssetsSessions";
  const tags = ["assets"];
  app.post(
    path,
    {
      schema: {
        tags,
        security,
        params: DatasetParams,
        body: CreateBulkDeleteRequest,
        response: { 201: BulkAssetDeletionSession, ...errors },
      },
    },
    async (request, reply) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      const session = await deletions.create(orgId, datasetId, request.body.spec);
      return reply.code(201).send(presentDeletionSession(session));
    },
  );
  app.get(
    `${path}/:id`,
    {
      schema: {
        tags,
        security,
        params: SessionParams,
        querystring: BulkDeleteStatusQuery,
        response: { 200: BulkAssetDeletionSession, ...errors },
      },
    },
    async (request) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      const waitMs = request.query.waitFor === "Finished" ? Math.round((request.query.timeout ?? 30) * 1000) : 0;
      const closed = new AbortController();
      request.raw.once("close", () => closed.abort());
      return presentDeletionSession(await deletions.status(orgId, datasetId, request.params.id, waitMs, closed.signal));
    },
  );
}
