/**
 * The API paths, once, so that the server's routes and the SDK's calls cannot drift apart.
 * `D` is the composite `{orgId}_{datasetId}`.
 */
const enc = encodeURIComponent;
const D = (orgId: string, datasetId: string) => `${enc(orgId)}_${enc(datasetId)}`;

export const apiPaths = {
  organizations: () => `/workspaces`,
  organization: (orgId: string) => `/workspaces/${enc(orgId)}`,
  /** [ext] create further secret keys for an organization. */
  secretKeys: (orgId: string) => `/workspaces/${enc(orgId)}/secretKeys`,
  /** [ext] revoke one key. */
  secretKey: (orgId: string, keyId: string) => `/workspaces/${enc(orgId)}/secretKeys/${enc(keyId)}`,
  datasets: (orgId: string) => `/workspaces/${enc(orgId)}/datasets`,
  dataset: (orgId: string, datasetId: string) => `/workspaces/${enc(orgId)}/datasets/${D(orgId, datasetId)}`,
  assets: (orgId: string, datasetId: string) => `${apiPaths.dataset(orgId, datasetId)}/assets`,
  asset: (orgId: string, datasetId: string, assetId: string) =>
    `${apiPaths.dataset(orgId, datasetId)}/assets/${enc(assetId)}`,
  annotations: (orgId: string, datasetId: string, assetId: string) =>
    `${apiPaths.asset(orgId, datasetId, assetId)}/annotations`,
  annotation: (orgId: string, datasetId: string, assetId: string, annotationId: string) =>
    `${apiPaths.annotations(orgId, datasetId, assetId)}/${enc(annotationId)}`,
  ingestionSessions: (orgId: string, datasetId: string) =>
    `${apiPaths.dataset(orgId, datasetId)}/assetSources/managed/datature/transient/assetIngestionSessions`,
  ingestionSession: (orgId: string, datasetId: string, sessionId: string) =>
    `${apiPaths.ingestionSessions(orgId, datasetId)}/${enc(sessionId)}`,
  deleteManyAssetsSessions: (orgId: string, datasetId: string) =>
    `${apiPaths.dataset(orgId, datasetId)}/deleteManyAssetsSessions`,
  deleteManyAssetsSession: (orgId: string, datasetId: string, sessionId: string) =>
    `${apiPaths.deleteManyAssetsSessions(orgId, datasetId)}/${enc(sessionId)}`,
  /** [ext] queue a dataset's assets for processing again. */
  reprocess: (orgId: string, datasetId: string) => `${apiPaths.dataset(orgId, datasetId)}/reprocess`,
} as const;

/** The header that carries each request's id, in both directions. */
export const REQUEST_ID_HEADER = "x-request-id";
