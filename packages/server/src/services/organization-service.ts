import { MAX_FILES_PER_SESSION, type Organization } from "@vi/protocol";
import { notFound } from "../errors.js";
import { presentOrganization } from "../http/presenters.js";
import type { ServiceContext } from "./context.js";

export class OrganizationService {
  constructor(private readonly ctx: ServiceContext) {}

  async get(orgId: string): Promise<Organization> {
    const org = await this.ctx.metadata.getOrganization(orgId);
    if (!org) throw notFound("Organization", orgId);
    const datasets = await this.ctx.metadata.listDatasets(orgId);
    return presentOrganization(
      org,
      datasets.map((d) => d.datasetId),
      this.ctx.config,
      MAX_FILES_PER_SESSION,
    );
  }
}
