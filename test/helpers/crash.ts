import { expect } from "vitest";
import { Client } from "@vi/sdk";
import type { ServerProcess } from "./server-process.mjs";

/**
 * Uploads `folder` through the SDK into a new dataset and SIGKILLs the server once `killAt`
 * assets are committed, while PUTs (and, with a bucket, their verification) are in flight.
 * The upload must end interrupted. Answers the dataset's id.
 */
export async function killMidUpload(
  server: ServerProcess,
  folder: string,
  datasetName: string,
  killAt: number,
): Promise<string> {
  const client = new Client({
    endpoint: server.url,
    organizationId: server.creds.organizationId,
    secretKey: server.creds.secretKey,
    maxRetries: 0,
  });
  const datasetId = (await client.datasets.create({ name: datasetName })).datasetId;
  const upload = client.assets.upload({ datasetId, paths: folder, concurrency: 8, showProgress: false }).then(
    () => "finished" as const,
    () => "interrupted" as const,
  );
  for (let seen = 0; seen < killAt;) {
    await new Promise((r) => setTimeout(r, 20));
    seen = (await client.datasets.get({ datasetId })).statistic.assetTotal;
  }
  await server.kill();
  expect(await upload).toBe("interrupted");
  await client.close();
  return datasetId;
}
