import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MediaError, type MediaErrorCode, probeImageBytes, probeImageFile } from "../src/media/index.js";
import { INTERNAL_FAULT_NOTE } from "../src/media/probe.js";

/** The header probe cases of issue 9: files made by test-fixtures/images/probe-cases/make.mjs, described in its manifest. */
const CASES = fileURLToPath(new URL("../../../test-fixtures/images/probe-cases/", import.meta.url));

interface ProbeCase {
  description: string;
  expect?: { mimeType: string; width: number; height: number; frames: number; orientation: number };
  error?: { code: MediaErrorCode; reason: string };
}

const manifest = JSON.parse(await readFile(join(CASES, "manifest.json"), "utf8")) as {
  cases: Record<string, ProbeCase>;
};
const entries = Object.entries(manifest.cases);

describe("header probe cases (issue 9)", () => {
  it("describes every case file in the manifest", async () => {
    const files = (await readdir(CASES)).filter((name) => !/\.(json|mjs|sh)$/.test(name)).sort();
    expect(files).toEqual(entries.map(([name]) => name).sort());
    for (const [name, entry] of entries) expect(Boolean(entry.expect) !== Boolean(entry.error), name).toBe(true);
  });

  it.each(entries.filter(([, entry]) => entry.expect))("%s is accepted", async (name, entry) => {
    const path = join(CASES, name);
    const info = await probeImageFile(path);
    expect(info, entry.description).toMatchObject(entry.expect ?? {});
    // The in-memory probe (small uploads) must agree with the file probe.
    expect(await probeImageBytes(await readFile(path))).toEqual(info);
  });

  it.each(entries.filter(([, entry]) => entry.error))("%s is refused", async (name, entry) => {
    const path = join(CASES, name);
    const bytes = await readFile(path);
    for (const probe of [() => probeImageFile(path), () => probeImageBytes(bytes)]) {
      const error = await probe().then(
        (info) => new Error(`${entry.description}: accepted as ${JSON.stringify(info)}`),
        (thrown: unknown) => thrown,
      );
      expect(error, entry.description).toBeInstanceOf(MediaError);
      const mediaError = error as MediaError;
      expect(mediaError.code, mediaError.message).toBe(entry.error?.code);
      expect(mediaError.message).toContain(entry.error?.reason);
      expect(mediaError.message).not.toContain(INTERNAL_FAULT_NOTE);
    }
  });
});
