import type { FastifyRequest } from "fastify";
import { splitDataPathId } from "@vi/protocol";
import { notFound } from "../errors.js";
import type { Principal } from "../services/auth-service.js";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The caller's organization, which must be the one the path names: others' data answers 404. */
export function orgOf(request: FastifyRequest, pathOrg: string): string {
  const principal = request.principal;
  if (!principal || principal.orgId !== pathOrg) throw notFound("Organization", pathOrg);
  return principal.orgId;
}

/** Resolves the `{orgId}_{datasetId}` path segment against the caller's organization. */
export function datasetOf(
  request: FastifyRequest,
  pathOrg: string,
  composite: string,
): { orgId: string; datasetId: string } {
  const orgId = orgOf(request, pathOrg);
  const parts = splitDataPathId(composite);
  // A bare dataset id is accepted too: the Python client cleans ids to their last part.
  if (!parts) return { orgId, datasetId: composite };
  if (parts.orgId !== orgId) throw notFound("Dataset", composite);
  return { orgId, datasetId: parts.datasetId };
}
