import { Type } from "typebox";
import { Annotation, CreateAnnotationRequest, ListAnnotationsQuery, Page } from "@vi/protocol/schemas";
import { datasetOf } from "../http/auth.js";
import { presentAnnotation } from "../http/presenters.js";
import type { AnnotationService } from "../services/annotation-service.js";
import { AnnotationParams, AssetParams, errors, security, type TypedApp } from "./common.js";

/** Annotations of one asset: create, list (keyset pages, as the Python client pages them), get, delete. */
export function registerAnnotationRoutes(app: TypedApp, annotations: AnnotationService): void {
  const path = "/workspaces/:org/datasets/:D/assets/:assetId/annotations";
  const tags = ["annotations"];
  app.get(
    path,
    {
      schema: {
        tags,
        security,
        params: AssetParams,
        querystring: ListAnnotationsQuery,
        response: { 200: Page(Annotation), ...errors },
      },
    },
    async (request) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      const page = await annotations.list(orgId, datasetId, request.params.assetId, {
        ...(request.query.pageToken ? { pageToken: request.query.pageToken } : {}),
        ...(request.query.pageSize !== undefined ? { pageSize: request.query.pageSize } : {}),
      });
      return { items: page.items.map(presentAnnotation), nextPage: page.nextPage, prevPage: null };
    },
  );
  app.post(
    path,
    {
      schema: {
        tags,
        security,
        params: AssetParams,
        body: CreateAnnotationRequest,
        response: { 201: Annotation, ...errors },
      },
    },
    async (request, reply) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      const created = await annotations.create(orgId, datasetId, request.params.assetId, request.body.spec);
      return reply.code(201).send(presentAnnotation(created));
    },
  );
  app.get(
    `${path}/:annotationId`,
    { schema: { tags, security, params: AnnotationParams, response: { 200: Annotation, ...errors } } },
    async (request) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      const { assetId, annotationId } = request.params;
      return presentAnnotation(await annotations.get(orgId, datasetId, assetId, annotationId));
    },
  );
  app.delete(
    `${path}/:annotationId`,
    { schema: { tags, security, params: AnnotationParams, response: { 204: Type.Null(), ...errors } } },
    async (request, reply) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      await annotations.delete(orgId, datasetId, request.params.assetId, request.params.annotationId);
      // The Python client accepts exactly an empty body.
      return reply.code(204).send(null);
    },
  );
}
