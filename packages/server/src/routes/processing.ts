import { ReprocessRequest, ReprocessResult } from "@vi/protocol/schemas";
import { datasetOf } from "../http/auth.js";
import type { DatasetService } from "../services/dataset-service.js";
import type { ProcessingService } from "../services/processing-service.js";
import { DatasetParams, errors, security, type TypedApp } from "./common.js";

/** [ext] Processing: queue a dataset's assets again (after a decoder upgrade). */
export function registerProcessingRoutes(app: TypedApp, datasets: DatasetService, processing: ProcessingService): void {
  app.post(
    "/workspaces/:org/datasets/:D/reprocess",
    {
      schema: {
        tags: ["assets"],
        security,
        params: DatasetParams,
        body: ReprocessRequest,
        response: { 200: ReprocessResult, ...errors },
      },
    },
    async (request) => {
      const { orgId, datasetId } = datasetOf(request, request.params.org, request.params.D);
      await datasets.require(orgId, datasetId);
      return processing.reprocess(orgId, datasetId, request.body?.all === true);
    },
  );
}
