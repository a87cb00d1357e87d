import type { CreateDatasetRequest } from "@vi/protocol";
import { ApiError, notFound } from "../errors.js";
import { newId } from "../util/ids.js";
import type { DatasetRecord, DatasetStats } from "../store/metadata/records.js";
import type { ServiceContext } from "./context.js";
import type { BlobReleaser } from "./blob-releaser.js";

export interface DatasetView {
  dataset: DatasetRecord;
  stats: DatasetStats;
}

export class DatasetService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly releaser: BlobReleaser,
  ) {}

  async create(orgId: string, req: CreateDatasetRequest): Promise<DatasetView> {
    const t = Date.now();
    const dataset: DatasetRecord = {
      orgId,
      datasetId: req.datasetId ?? newId(20),
      name: req.name.trim(),
      description: req.description ?? null,
      type: req.type ?? "phrase-grounding",
      content: req.content ?? "Image",
      createdAt: t,
      lastAccessed: t,
    };
    if (dataset.name === "") throw new ApiError("MissingRequiredField", "A dataset needs a non-blank name");
    if (!(await this.ctx.metadata.createDataset(dataset))) {
      throw new ApiError(
        "ResourceConflict",
        `Dataset '${dataset.datasetId}' already exists`,
        "Choose another datasetId, or omit it.",
      );
    }
    return { dataset, stats: { assetTotal: 0, annotationTotal: 0, assetAnnotated: 0, tagsCount: {}, tagIds: {} } };
  }

  async list(orgId: string): Promise<DatasetView[]> {
    const datasets = await this.ctx.metadata.listDatasets(orgId);
    const stats = await this.ctx.metadata.datasetStats(
      orgId,
      datasets.map((d) => d.datasetId),
    );
    return datasets.map((dataset) => ({ dataset, stats: stats.get(dataset.datasetId)! }));
  }

  async get(orgId: string, datasetId: string): Promise<DatasetView> {
    const dataset = await this.require(orgId, datasetId);
    const stats = await this.ctx.metadata.datasetStats(orgId, [datasetId]);
    return { dataset, stats: stats.get(datasetId)! };
  }

  async require(orgId: string, datasetId: string): Promise<DatasetRecord> {
    const dataset = await this.ctx.metadata.getDataset(orgId, datasetId);
    if (!dataset) throw notFound("Dataset", datasetId);
    return dataset;
  }

  /** Deletes the dataset, its assets and, once no asset holds them, their bytes. */
  async delete(orgId: string, datasetId: string): Promise<{ deletedAssets: number }> {
    const result = await this.ctx.metadata.deleteDataset(orgId, datasetId);
    if (!result) throw notFound("Dataset", datasetId);
    await this.releaser.release(result.orphanedBlobs);
    return { deletedAssets: result.deletedAssets };
  }
}
