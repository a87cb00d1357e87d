// What a stopped (or killed) server left on disk, read directly: the SQLite file (read-only) and
// the blob folder `<dataDir>/blobs/xx/<sha256>`, with every invariant that ties them together.
// A running server holds its database exclusively, so this is for a server that is not running.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { openStoreReader } from "./test-database.mjs";

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Every file under `<dataDir>/blobs`, by name, with its size and whether it sits in its shard. */
export async function blobFilesOnDisk(dataDir) {
  const files = new Map();
  const strays = [];
  const root = join(dataDir, "blobs");
  for (const shard of await readdir(root).catch(() => [])) {
    const names = await readdir(join(root, shard)).catch(() => null);
    if (names === null) {
      strays.push(shard);
      continue;
    }
    await Promise.all(
      names.map(async (name) => {
        const { size } = await stat(join(root, shard, name));
        if (!SHA256_HEX.test(name) || name.slice(0, 2) !== shard) strays.push(`${shard}/${name}`);
        else files.set(name, size);
      }),
    );
  }
  return { files, strays };
}

/**
 * The store's facts and every broken invariant. `problems` lists what must never be (a row
 * without its bytes, bytes of another size, a reference count that is off, a counter that
 * disagrees with the rows, field rows without their asset); `orphanFiles` are bytes no row
 * references, which a crash may leave and the sweep at the next start must remove.
 */
export async function inspectStore(dataDir) {
  const db = await openStoreReader(dataDir);
  let facts;
  try {
    const all = (q) => db.all(q);
    const one = async (q) => (await db.all(q))[0];
    facts = {
      assets: await all(
        "select seq, asset_id, org_id, dataset_id, filename, sha256, file_size, generation from assets",
      ),
      blobs: await all("select sha256, size, ref_count from blobs"),
      // An asset references its bytes and, once processed, its thumbnail's.
      refs: await all(
        "select sha256, count(*) as n from (select sha256 from assets union all select thumbnail_sha256 from assets where thumbnail_sha256 is not null) r group by sha256",
      ),
      thumbnails: await all(
        "select asset_id, filename, thumbnail_sha256, thumbnail_size from assets where thumbnail_sha256 is not null",
      ),
      counters: await all(
        "select d.org_id, d.dataset_id, d.asset_count, (select count(*) from assets a where a.org_id = d.org_id and a.dataset_id = d.dataset_id) as actual from datasets d",
      ),
      orphanFields: (
        await one("select count(*) as n from asset_fields where asset_seq not in (select seq from assets)")
      ).n,
      fieldless: (
        await one(
          "select count(*) as n from assets where custom_metadata <> '{}' and seq not in (select asset_seq from asset_fields)",
        )
      ).n,
      deletionSessions: (
        await all(
          "select session_id, dataset_id, spec, state, selected, deleted, (select count(*) from deletion_targets t where t.session_id = s.session_id) as targets_left from deletion_sessions s",
        )
      ).map((s) => ({ ...s, spec: JSON.parse(s.spec) })),
      ingestion: await all("select state, count(*) as n from ingestion_sessions group by state"),
    };
  } finally {
    await db.close();
  }
  const { files, strays } = await blobFilesOnDisk(dataDir);
  const staging = await readdir(join(dataDir, "staging")).catch(() => []);
  const problems = [];
  const blobRows = new Map(facts.blobs.map((b) => [b.sha256, b]));
  for (const a of facts.assets) {
    const row = blobRows.get(a.sha256);
    const onDisk = files.get(a.sha256);
    if (!row) problems.push(`asset ${a.asset_id} (${a.filename}) references ${a.sha256}, which has no blobs row`);
    if (onDisk === undefined)
      problems.push(`asset ${a.asset_id} (${a.filename}): its bytes ${a.sha256} are not on disk`);
    else if (onDisk !== a.file_size)
      problems.push(`asset ${a.asset_id} (${a.filename}): ${onDisk} bytes on disk, the row says ${a.file_size}`);
  }
  for (const a of facts.thumbnails) {
    const onDisk = files.get(a.thumbnail_sha256);
    if (!blobRows.has(a.thumbnail_sha256)) problems.push(`asset ${a.asset_id}: its thumbnail has no blobs row`);
    if (onDisk !== a.thumbnail_size)
      problems.push(
        `asset ${a.asset_id} (${a.filename}): its thumbnail is ${onDisk ?? "not"} on disk (${a.thumbnail_size} bytes expected)`,
      );
  }
  const refs = new Map(facts.refs.map((r) => [r.sha256, r.n]));
  for (const b of facts.blobs) {
    if ((refs.get(b.sha256) ?? 0) !== b.ref_count)
      problems.push(
        `blob ${b.sha256}: ref_count ${b.ref_count}, but ${refs.get(b.sha256) ?? 0} assets (or thumbnails) reference it`,
      );
    if (!files.has(b.sha256)) problems.push(`blob ${b.sha256} has a row but no file`);
  }
  for (const c of facts.counters)
    if (c.asset_count !== c.actual)
      problems.push(`dataset ${c.dataset_id}: asset_count ${c.asset_count}, but ${c.actual} asset rows`);
  if (facts.orphanFields > 0) problems.push(`${facts.orphanFields} asset_fields rows without their asset`);
  if (facts.fieldless > 0) problems.push(`${facts.fieldless} assets with custom metadata but no asset_fields rows`);
  for (const s of strays) problems.push(`a stray entry in the blob folder: ${s}`);
  const orphanFiles = [...files.keys()].filter((sha) => !blobRows.has(sha));
  return { ...facts, files, staging, problems, orphanFiles };
}
