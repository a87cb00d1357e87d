import type { SessionView } from "../services/ingestion-service.js";
import type { FastifyPluginAsync } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  Asset,
  CreateDatasetRequest,
  CreateIngestionSessionRequest,
  Dataset,
  DeletedDataset,
  ErrorBody,
  GetAssetQuery,
  IngestionSession,
  ListAssetsQuery,
  Page,
  SessionStatusQuery,
  UpdateAssetRequest,
  UpdateAssetsRequest,
  UpdatedAssets,
} from "@vi/protocol/schemas";
import { MAX_MANIFEST_BYTES } from "@vi/protocol";
import { datasetOf, orgOf } from "../http/auth.js";
import { presentAsset, presentDataset, presentDeletedDataset, presentSession } from "../http/presenters.js";
import type { Services } from "../services/services.js";
import type { ServerConfig } from "../config.js";
import { registerRateLimit } from "../http/rate-limit.js";
import { Semaphore } from "../util/semaphore.js";

const LARGE_MANIFEST_BYTES = 1024 * 1024;
import { AssetParams, DatasetParams, errors, OrgParams, SessionParams, security, type TypedApp } from "./common.js";
import { registerAnnotationRoutes } from "./annotations.js";
import { registerOrganizationRoutes } from "./organizations.js";
import { registerBulkDeleteRoutes } from "./bulk-delete.js";
import { registerProcessingRoutes } from "./processing.js";

/**
 * The API under /workspaces. Routes are thin: they resolve the caller's organization, call a
 * service and shape the reply; the rules live in the services.
 */
export const apiRoutes =
  (services: Services, config: ServerConfig): FastifyPluginAsync =>
  async (fastify) => {
    // Before authentication, so that guessing keys is limited too.
    await registerRateLimit(fastify, config.rateLimitPerMinute);
    const app: TypedApp = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const { auth, datasets, assets, ingestion, annotations, organizations, deletions, processing } = services;
    /**
     * Upload targets: the server's signed PUTs (and the [ext] batch PUT), or with a bucket
     * presigned PUTs straight to it (no batch PUT: its bytes would pass through the server).
     */
    const presentWithTargets = async (view: SessionView) => {
      const { presigned } = services;
      if (!presigned) {
        const batch = () => ingestion.batchTarget(view.session);
        return presentSession(view, (f) => ingestion.uploadTarget(view.session, f), batch);
      }
      const targets = await presigned.targets(view);
      return presentSession(view, (f) => targets.get(f.fileIndex)!);
    };

    app.addHook("onRequest", async (request) => {
      const orgHeader = request.headers["organization-id"];
      request.principal = await auth.authenticate(
        request.headers.authorization,
        Array.isArray(orgHeader) ? orgHeader[0] : orgHeader,
      );
    });

    registerOrganizationRoutes(app, organizations, auth);

    // ---- datasets ----
    app.get(
      "/workspaces/:org/datasets",
      { schema: { tags: ["datasets"], security, params: OrgParams, response: { 200: Page(Dataset), ...errors } } },
      async (request) => {
        const items = (await datasets.list(orgOf(request, request.params.org))).map(presentDataset);
        return { items, nextPage: null, prevPage: null, totalCount: items.length };
      },
    );
    app.post(
      "/workspaces/:org/datasets",
      {
        schema: {
          tags: ["datasets"],
          security,
          params: OrgParams,
          body: CreateDatasetRequest,
          response: { 201: Dataset, ...errors, 409: ErrorBody },
        },
      },
      async (request, reply) =>
        reply.code(201).send(presentDataset(await datasets.create(orgOf(request, request.params.org), request.body))),
    );
    app.get(
      "/workspaces/:org/datasets/:D",
      { schema: { tags: ["datasets"], security, params: DatasetParams, response: { 200: Dataset, ...errors } } },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        return presentDataset(await datasets.get(orgId, datasetId));
      },
    );
    app.delete(
      "/workspaces/:org/datasets/:D",
      { schema: { tags: ["datasets"], security, params: DatasetParams, response: { 200: DeletedDataset, ...errors } } },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const { deletedAssets } = await datasets.delete(orgId, datasetId);
        return presentDeletedDataset(orgId, datasetId, deletedAssets);
      },
    );

    // ---- assets ----
    app.get(
      "/workspaces/:org/datasets/:D/assets",
      {
        schema: {
          tags: ["assets"],
          security,
          params: DatasetParams,
          querystring: ListAssetsQuery,
          response: { 200: Page(Asset), ...errors },
        },
      },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const q = request.query;
        const page = await assets.list(orgId, datasetId, {
          ...(q.p !== undefined ? { pageToken: q.p } : {}),
          ...(q.s !== undefined ? { pageSize: q.s } : {}),
          ...(q.sortBy !== undefined ? { sortBy: q.sortBy } : {}),
          ...(q.o !== undefined ? { order: q.o } : {}),
          ...(q.filter !== undefined ? { filter: q.filter } : {}),
          ...(q.metadataQuery !== undefined ? { metadataQuery: q.metadataQuery } : {}),
          ...(q.ruleQuery !== undefined ? { ruleQuery: q.ruleQuery } : {}),
          strictQuery: q.strictQuery === "y",
          count: q.count === "y",
        });
        const items = page.assets.map((a) => presentAsset(a, q.contents === "y" ? assets.contentsOf(a) : undefined));
        return {
          items,
          nextPage: page.nextPage,
          prevPage: null,
          ...(page.totalCount !== undefined ? { totalCount: page.totalCount } : {}),
        };
      },
    );
    app.get(
      "/workspaces/:org/datasets/:D/assets/:assetId",
      {
        schema: {
          tags: ["assets"],
          security,
          params: AssetParams,
          querystring: GetAssetQuery,
          response: { 200: Asset, ...errors },
        },
      },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const asset = await assets.get(orgId, datasetId, request.params.assetId);
        return presentAsset(asset, request.query.contents === "y" ? assets.contentsOf(asset) : undefined);
      },
    );
    app.delete(
      "/workspaces/:org/datasets/:D/assets/:assetId",
      { schema: { tags: ["assets"], security, params: AssetParams, response: { 204: Type.Null(), ...errors } } },
      async (request, reply) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        await assets.delete(orgId, datasetId, request.params.assetId);
        // The Python client accepts exactly an empty body.
        return reply.code(204).send(null);
      },
    );
    app.patch(
      "/workspaces/:org/datasets/:D/assets/:assetId",
      {
        schema: {
          tags: ["assets"],
          security,
          params: AssetParams,
          body: UpdateAssetRequest,
          response: { 200: Asset, ...errors },
        },
      },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const [updated] = await assets.update(orgId, datasetId, [
          {
            assetId: request.params.assetId,
            patch: request.body.customMetadata,
            replace: request.body.replaceCustomMetadata === true,
          },
        ]);
        return presentAsset(updated!);
      },
    );
    app.patch(
      "/workspaces/:org/datasets/:D/assets",
      {
        schema: {
          tags: ["assets"],
          security,
          params: DatasetParams,
          body: UpdateAssetsRequest,
          response: { 200: UpdatedAssets, ...errors },
        },
      },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const updated = await assets.update(
          orgId,
          datasetId,
          request.body.updates.map((u) => ({
            assetId: u.assetId,
            patch: u.customMetadata,
            replace: u.replaceCustomMetadata === true,
          })),
        );
        return { items: updated.map((a) => presentAsset(a)) };
      },
    );

    // ---- ingestion sessions ----
    const sessionsPath = "/workspaces/:org/datasets/:D/assetSources/managed/datature/transient/assetIngestionSessions";
    // Parsing a manifest of many megabytes costs memory many times its size: only two large
    // ones are read at once, the others wait their turn (small ones never wait).
    const largeManifests = new Semaphore(2);
    const releases = new WeakMap<object, () => void>();
    app.post(
      sessionsPath,
      {
        onRequest: async (request) => {
          if (Number(request.headers["content-length"] ?? 0) > LARGE_MANIFEST_BYTES) {
            releases.set(request, await largeManifests.acquire());
          }
        },
        onResponse: async (request) => releases.get(request)?.(),
        onRequestAbort: async (request) => releases.get(request)?.(),
        // A manifest of 10,000 files with metadata at its limit; the SDK splits larger ones.
        bodyLimit: MAX_MANIFEST_BYTES,
        schema: {
          tags: ["uploads"],
          security,
          params: DatasetParams,
          body: CreateIngestionSessionRequest,
          response: { 201: IngestionSession, ...errors },
        },
      },
      async (request, reply) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const view = await ingestion.create(orgId, datasetId, request.body.spec);
        return reply.code(201).send(await presentWithTargets(view));
      },
    );
    app.get(
      `${sessionsPath}/:sessionId`,
      {
        schema: {
          tags: ["uploads"],
          security,
          params: SessionParams,
          querystring: SessionStatusQuery,
          response: { 200: IngestionSession, ...errors },
        },
      },
      async (request) => {
        const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
        const { waitFor } = request.query;
        const waitMs = waitFor ? Math.round((request.query.timeout ?? 30) * 1000) : 0;
        const closed = new AbortController();
        request.raw.once("close", () => closed.abort());
        const { sessionId } = request.params;
        const processed = waitFor === "Processed";
        const view = await ingestion.status(orgId, datasetId, sessionId, waitMs, closed.signal, processed);
        return presentWithTargets(view);
      },
    );

    registerAnnotationRoutes(app, annotations);
    registerBulkDeleteRoutes(app, deletions);
    registerProcessingRoutes(app, datasets, processing);
  };
