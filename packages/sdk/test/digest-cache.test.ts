import { mkdtemp, readFile, writeFile, utimes, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { digestFile } from "../src/lib/checksum.js";
import { DigestCache } from "../src/lib/digest-cache.js";

describe("DigestCache", () => {
  it("serves a remembered digest for an unchanged file, and never a stale one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vi-digest-"));
    const file = join(dir, "a.bin");
    const cachePath = join(dir, "cache", "digests.json");
    await writeFile(file, "first contents");
    const cache = await DigestCache.open(cachePath);
    const first = await cache.digest(file);
    expect(first).toEqual(await digestFile(file));
    await cache.save();
    expect(JSON.parse(await readFile(cachePath, "utf8"))).toMatchObject({ version: 1 });

    // Same size, same mtime forced back: the change time still gives the edit away.
    const { mtime } = await stat(file);
    await writeFile(file, "other contents");
    await utimes(file, mtime, mtime);
    const reopened = await DigestCache.open(cachePath);
    const second = await reopened.digest(file);
    expect(second).toEqual(await digestFile(file));
    expect(second.sha256).not.toBe(first.sha256);
  });

  it("answers from the cache without reading the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vi-digest-"));
    const file = join(dir, "b.bin");
    await writeFile(file, "contents");
    const cachePath = join(dir, "digests.json");
    const cache = await DigestCache.open(cachePath);
    const digest = await cache.digest(file);
    await cache.save();
    // Plant a different digest for the same fingerprint: a hit must return it, proving no read.
    const saved = JSON.parse(await readFile(cachePath, "utf8")) as {
      version: number;
      entries: Record<string, unknown[]>;
    };
    const key = Object.keys(saved.entries)[0]!;
    saved.entries[key]![6] = "f".repeat(64);
    await writeFile(cachePath, JSON.stringify(saved));
    const hit = await (await DigestCache.open(cachePath)).digest(file);
    expect(hit).toEqual({ ...digest, sha256: "f".repeat(64) });
  });

  it("starts empty from a corrupt cache file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vi-digest-"));
    const cachePath = join(dir, "digests.json");
    await writeFile(cachePath, "{not json");
    const file = join(dir, "c.bin");
    await writeFile(file, "x");
    expect(await (await DigestCache.open(cachePath)).digest(file)).toEqual(await digestFile(file));
  });

  it("two uploads sharing the cache file keep each other's digests", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vi-digest-"));
    const cachePath = join(dir, "digests.json");
    await writeFile(join(dir, "one.bin"), "one");
    await writeFile(join(dir, "two.bin"), "two");
    // Both open the (empty) cache before either saves, as two terminals would.
    const first = await DigestCache.open(cachePath);
    const second = await DigestCache.open(cachePath);
    await first.digest(join(dir, "one.bin"));
    await second.digest(join(dir, "two.bin"));
    await first.save();
    await second.save();
    const saved = JSON.parse(await readFile(cachePath, "utf8")) as { entries: Record<string, unknown> };
    expect(Object.keys(saved.entries).sort()).toEqual([join(dir, "one.bin"), join(dir, "two.bin")]);
  });
});
