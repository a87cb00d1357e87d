import { Type } from "typebox";
import {
  CreateSecretKeyRequest,
  CreatedSecretKey,
  ErrorBody,
  Organization,
  Page,
  SecretKeySummary,
} from "@vi/protocol/schemas";
import { orgOf } from "../http/auth.js";
import type { AuthService } from "../services/auth-service.js";
import type { OrganizationService } from "../services/organization-service.js";
import { errors, OrgParams, security, type TypedApp } from "./common.js";

const KeyParams = Type.Object({ org: Type.String(), keyId: Type.String() });

/** The caller's organization and its secret keys ([ext]: create, list, revoke). */
export function registerOrganizationRoutes(app: TypedApp, organizations: OrganizationService, auth: AuthService): void {
  const tags = ["organizations"];
  app.get(
    "/workspaces",
    { schema: { tags, security, response: { 200: Page(Organization), ...errors } } },
    async (request) => {
      const org = await organizations.get(request.principal!.orgId);
      return { items: [org], nextPage: null, prevPage: null, totalCount: 1 };
    },
  );
  app.get(
    "/workspaces/:org",
    { schema: { tags, security, params: OrgParams, response: { 200: Organization, ...errors } } },
    async (request) => organizations.get(orgOf(request, request.params.org)),
  );
  app.post(
    "/workspaces/:org/secretKeys",
    {
      schema: {
        tags,
        security,
        params: OrgParams,
        body: Type.Optional(CreateSecretKeyRequest),
        response: { 201: CreatedSecretKey, ...errors },
      },
    },
    async (request, reply) => {
      const orgId = orgOf(request, request.params.org);
      const key = await auth.createKey(orgId, request.body?.name);
      return reply.code(201).send({
        kind: "SecretKey",
        keyId: key.keyId,
        name: key.name,
        workspaceId: orgId,
        secretKey: key.secretKey,
        createDate: key.createdAt,
      });
    },
  );
  app.get(
    "/workspaces/:org/secretKeys",
    { schema: { tags, security, params: OrgParams, response: { 200: Page(SecretKeySummary), ...errors } } },
    async (request) => {
      const orgId = orgOf(request, request.params.org);
      const items = (await auth.listKeys(orgId)).map((k) => ({
        kind: "SecretKey" as const,
        keyId: k.keyId,
        name: k.name,
        workspaceId: orgId,
        createDate: k.createdAt,
        current: k.keyId === request.principal!.keyId,
      }));
      return { items, nextPage: null, prevPage: null, totalCount: items.length };
    },
  );
  app.delete(
    "/workspaces/:org/secretKeys/:keyId",
    { schema: { tags, security, params: KeyParams, response: { 204: Type.Null(), ...errors, 409: ErrorBody } } },
    async (request, reply) => {
      await auth.revokeKey(orgOf(request, request.params.org), request.params.keyId);
      return reply.code(204).send(null);
    },
  );
}
