import { Client } from "@vi/sdk";

const client = new Client(); // env vars, else the nearest vi-data/credentials.json

const { datasetId } = await client.datasets.create({ name: "street scenes" });
const result = await client.assets.upload({ datasetId, paths: "./examples/images/" });
console.log(result.summary());

for await (const page of client.assets.list({ datasetId, pageSize: 100 })) {
  for (const asset of page.items) console.log(asset.filename, asset.metadata.width, asset.metadata.height);
}

const [first] = (await client.assets.list({ datasetId })).items;
const asset = await client.assets.get({ datasetId, assetId: first.assetId, contents: true });
console.log(asset.contents?.asset?.url); // signed, expires, ends in the filename

const copy = await client.assets.download({ datasetId, saveDir: "./examples/sdk-copy" });
console.log(`Downloaded ${copy.downloaded} files to ${copy.saveDir}`);
await client.assets.delete({ datasetId, assetId: first.assetId });
await client.close();
