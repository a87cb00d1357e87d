import type { AnnotationRecord } from "../store/metadata/records.js";
import { newId } from "../util/ids.js";
import type { AssetService } from "./asset-service.js";
import type { ServiceContext } from "./context.js";

/** The minimum of annotations: enough for assets to count them and for re-uploads to keep or drop them. */
export class AnnotationService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly assets: AssetService,
  ) {}

  async create(
    orgId: string,
    datasetId: string,
    assetId: string,
    tag: string,
    contents: unknown,
  ): Promise<AnnotationRecord> {
    await this.assets.get(orgId, datasetId, assetId);
    const t = Date.now();
    const record: AnnotationRecord = {
      annotationId: newId(),
      orgId,
      datasetId,
      assetId,
      tag,
      contents: contents ?? null,
      createdAt: t,
      updatedAt: t,
    };
    await this.ctx.metadata.createAnnotation(record);
    return record;
  }

  async list(orgId: string, datasetId: string, assetId: string): Promise<AnnotationRecord[]> {
    await this.assets.get(orgId, datasetId, assetId);
    return this.ctx.metadata.listAnnotations(orgId, datasetId, assetId);
  }

  async delete(orgId: string, datasetId: string, assetId: string, annotationId: string): Promise<boolean> {
    await this.assets.get(orgId, datasetId, assetId);
    return this.ctx.metadata.deleteAnnotation(orgId, datasetId, assetId, annotationId);
  }
}
