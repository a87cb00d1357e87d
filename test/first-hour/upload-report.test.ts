import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES } from "../helpers/fixtures.js";
import { serve, userEnv, viCli, type Served } from "./helpers.js";

/** What a user meets uploading a real folder with the real CLI against `vi-cli serve`. */
describe("vi-cli assets upload reports what it left out", () => {
  let home: string;
  let server: Served;
  let env: NodeJS.ProcessEnv;
  const newDataset = async (name: string): Promise<string> => {
    const r = await viCli(["datasets", "create", name, "--json"], home, env);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { datasetId: string }).datasetId;
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "vi-first-hour-"));
    env = userEnv(home);
    server = await serve(home, env);
    // A folder of 8 files: 6 images, an SVG and a text file.
    const folder = join(home, "photos");
    await mkdir(join(folder, "night"), { recursive: true });
    for (const [from, to] of [
      ["photo-baseline.jpg", "street.jpg"],
      ["gray.png", "gray.png"],
      ["lossy.webp", "park.webp"],
      ["bitmap-8.bmp", "icon.bmp"],
      ["static.gif", "night/moon.gif"],
      ["legacy.jfif", "night/lamp.jfif"],
    ])
      await cp(join(FIXTURES, "valid", from!), join(folder, to!));
    await cp(join(FIXTURES, "invalid", "vector.svg"), join(folder, "logo.svg"));
    await writeFile(join(folder, "notes.txt"), "taken on Tuesday\n");
    // Another folder, with one image whose bytes are cut short.
    await mkdir(join(home, "mixed"));
    for (const name of ["photo-baseline.jpg", "gray.png", "lossy.webp", "bitmap-8.bmp", "static.gif"])
      await cp(join(FIXTURES, "valid", name), join(home, "mixed", name));
    await cp(join(FIXTURES, "invalid", "truncated.png"), join(home, "mixed", "broken.png"));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("a path that does not exist is a usage error (exit 2) with a hint, not an API error", async () => {
    const datasetId = await newDataset("missing path");
    const r = await viCli(["assets", "upload", datasetId, "./images/"], home, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: no such file or folder: ./images/\nhint: check the path: a relative path is taken from the current folder, ${home}\n`,
    );
    const j = await viCli(["assets", "upload", datasetId, "./images/", "--json"], home, env);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toEqual({
      error: {
        code: "PathNotFound",
        message: "no such file or folder: ./images/",
        suggestion: expect.stringMatching(/^check the path/),
        requestId: null,
        status: null,
      },
    });
  });

  it("counts the skipped files in the summary, and --verbose names them", async () => {
    const datasetId = await newDataset("skips");
    const r = await viCli(["assets", "upload", datasetId, "photos"], home, env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Files: +6 total, 6 succeeded, 0 failed/);
    expect(r.stdout).toMatch(/Skipped: +2 files: unsupported type \.svg \(1\), unsupported type \.txt \(1\)/);
    expect(r.stderr).toContain("(--verbose names the 2 skipped files)");

    const again = await viCli(["assets", "upload", datasetId, "photos", "--verbose"], home, env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${join("photos", "logo.svg")}  unsupported type .svg`);
    expect(again.stdout).toContain(`${join("photos", "notes.txt")}  unsupported type .txt`);

    const doc = JSON.parse((await viCli(["assets", "upload", datasetId, "photos", "--json"], home, env)).stdout);
    expect(doc).toMatchObject({ totalFiles: 6, totalSkipped: 2 });

    // One unit for sizes: the upload's summary, the listing and the download all speak KiB/MiB.
    expect(r.stdout).toMatch(/Sent: +\d+\.\d KiB\n/);
    const list = await viCli(["assets", "list", datasetId], home, env);
    expect(list.stdout).toMatch(/ 51\.7 KiB +-\n/); // street.jpg, 52,961 bytes
    const down = await viCli(["assets", "download", datasetId, "copy"], home, env);
    expect(down.stdout).toMatch(/^Downloaded 6 asset\(s\) \(\d+\.\d KiB\) to /);
    for (const out of [r, list, down]) expect(out.stdout + out.stderr).not.toMatch(/\d (kB|MB|GB)\b/);
  });

  it("--no-wait does not read as a failure, and prints the command that waits for the outcome", async () => {
    const datasetId = await newDataset("no wait");
    const r = await viCli(["assets", "upload", datasetId, "photos", "--no-wait"], home, env);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/Success rate: 0\.0%/);
    // The server may have settled such small files before the answer; either way the wait command is printed.
    const wait = new RegExp(`^  (vi-cli assets wait ${datasetId} \\S+)$`, "m").exec(r.stdout);
    expect(wait).not.toBeNull();
    const waited = await viCli(wait![1]!.split(" ").slice(1), home, env);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/Finished Reached/);
    expect(waited.stdout).toMatch(/Succeeded: 6/);
  });

  it("one bad file stops the upload by default; the hint says --fail-after-all, which uploads the rest", async () => {
    const datasetId = await newDataset("stopped");
    const stopped = await viCli(["assets", "upload", datasetId, "mixed"], home, env);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/^error: upload failed at mixed\/broken\.png: /m);
    expect(stopped.stderr).toMatch(/^hint: vi-cli stops at the first failed file by default.*--fail-after-all/m);

    const all = await viCli(["assets", "upload", datasetId, "mixed", "--fail-after-all"], home, env);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/Files: +6 total, 5 succeeded, 1 failed\n/);
    expect(all.stdout + all.stderr).toMatch(/mixed\/broken\.png +E[A-Z]+/);
  });

  it("a vi-metadata.json entry for a file no longer there is a warning: the rest is uploaded with its metadata", async () => {
    const datasetId = await newDataset("sidecar");
    const folder = join(home, "photos");
    await writeFile(
      join(folder, "vi-metadata.json"),
      JSON.stringify({ "street.jpg": { camera: "a", iso: 200 }, "deleted.jpg": { camera: "b" } }),
    );
    try {
      const r = await viCli(["assets", "upload", datasetId, "photos"], home, env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Files: +6 total, 6 succeeded, 0 failed/);
      expect(r.stdout).toContain(
        `Warning:      1 entry of ${join("photos", "vi-metadata.json")} named no file of this upload (not applied)`,
      );
      expect(r.stdout).not.toContain("deleted.jpg");
      expect(r.stderr).toContain("--verbose names the 2 skipped files and the 1 unmatched metadata entry");

      const verbose = await viCli(["assets", "upload", datasetId, "photos", "--verbose"], home, env);
      expect(verbose.stdout).toContain('    "deleted.jpg"');

      const listed = await viCli(["assets", "list", datasetId, "--query", 'camera == "a"', "--json"], home, env);
      const items = (
        JSON.parse(listed.stdout) as { items: { filename: string; metadata: { customMetadata: unknown } }[] }
      ).items;
      expect(items.map((a) => [a.filename, a.metadata.customMetadata])).toEqual([
        ["street.jpg", { camera: "a", iso: 200 }],
      ]);

      // A sidecar that is not JSON is still an error, naming it, and nothing is uploaded.
      await writeFile(join(folder, "vi-metadata.json"), `{"street.jpg": {"camera": "a"},}`);
      const bad = await viCli(["assets", "upload", await newDataset("bad sidecar"), "photos"], home, env);
      expect(bad.code).toBe(5);
      expect(bad.stderr).toMatch(/error: the metadata file .*vi-metadata\.json is not valid JSON/);
    } finally {
      await rm(join(folder, "vi-metadata.json"), { force: true });
    }
  });
});
