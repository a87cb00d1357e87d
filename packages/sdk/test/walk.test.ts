import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ViValidationError } from "../src/core/errors.js";
import { describeSkipped, mimeForFilename, walk, walkPaths } from "../src/lib/walk.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vi-walk-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function touch(rel: string, content = "x"): string {
  const path = join(dir, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

describe("walkPaths", () => {
  it("walks nested folders, keeps supported extensions case-insensitively, names files relative to the folder", async () => {
    touch("imgs/a.jpg", "aaa");
    touch("imgs/cats/b.PNG");
    touch("imgs/cats/deep/c.webp");
    touch("imgs/notes.txt");
    touch("imgs/.hidden.jpg");
    touch("imgs/.git/d.jpg");
    touch("outside/e.jpg");
    symlinkSync(join(dir, "outside"), join(dir, "imgs", "linked-dir"));
    symlinkSync(join(dir, "outside", "e.jpg"), join(dir, "imgs", "linked-file.jpg"));
    const files = await walkPaths(join(dir, "imgs"));
    expect(files.map((f) => f.filename)).toEqual(["a.jpg", "linked-file.jpg", "cats/b.PNG", "cats/deep/c.webp"]);
    expect(files[0]).toEqual({ path: join(dir, "imgs", "a.jpg"), filename: "a.jpg", size: 3, root: join(dir, "imgs") });
  });

  it("reports the files it leaves out, and why; not hidden entries, not the root's vi-metadata.json", async () => {
    touch("imgs/a.jpg");
    touch("imgs/logo.svg");
    touch("imgs/notes.txt");
    touch("imgs/Makefile");
    touch("imgs/vi-metadata.json", "{}");
    touch("imgs/cats/b.png");
    touch("imgs/cats/vi-metadata.json", "{}");
    touch("imgs/.DS_Store");
    touch("imgs/.git/HEAD");
    touch("outside/c.jpg");
    symlinkSync(join(dir, "outside"), join(dir, "imgs", "linked-dir"));
    symlinkSync(join(dir, "nowhere.jpg"), join(dir, "imgs", "dangling.jpg"));
    const { files, skipped } = await walk(join(dir, "imgs"));
    expect(files.map((f) => f.filename)).toEqual(["a.jpg", "cats/b.png"]);
    const at = (rel: string) => join(dir, "imgs", rel);
    expect(skipped).toEqual([
      { path: at("Makefile"), reason: "unsupported type (no extension)" },
      { path: at("dangling.jpg"), reason: "a broken link" },
      { path: at("linked-dir"), reason: "a link to a folder (not followed)" },
      { path: at("logo.svg"), reason: "unsupported type .svg" },
      { path: at("notes.txt"), reason: "unsupported type .txt" },
      { path: at("cats/vi-metadata.json"), reason: "a vi-metadata.json below the uploaded folder's root is not read" },
    ]);
    expect(describeSkipped(skipped)).toBe(
      "6 files: unsupported type (no extension) (1), a broken link (1), a link to a folder (not followed) (1), unsupported type .svg (1), unsupported type .txt (1), and 1 more reason(s)",
    );
    // Files named one by one are either uploaded or refused: nothing is skipped.
    expect((await walk([at("a.jpg")])).skipped).toEqual([]);
  });

  it("names a file given by itself by its basename, NFC-normalised", async () => {
    const decomposed = "cafe\u0301.jpg";
    const path = touch(`x/${decomposed}`);
    const [file] = await walkPaths([path]);
    expect(file?.filename).toBe("caf\u00e9.jpg");
    expect(file?.path).toBe(path);
  });

  it("refuses an explicitly named unsupported file before anything else", async () => {
    const txt = touch("readme.txt");
    await expect(walkPaths([touch("ok.jpg"), txt])).rejects.toThrow(ViValidationError);
    await expect(walkPaths(txt)).rejects.toThrow(/readme\.txt/);
  });

  it("refuses a missing path, naming it, with a code and a hint of its own", async () => {
    const missing = join(dir, "nope.jpg");
    await expect(walkPaths([touch("ok.jpg"), missing])).rejects.toThrow(
      new RegExp(`no such file or folder: ${missing}`),
    );
    const error = (await walkPaths("./images/").catch((e: unknown) => e)) as ViValidationError;
    expect(error).toBeInstanceOf(ViValidationError);
    expect(error).toMatchObject({ code: "PathNotFound", status: undefined, details: { paths: ["./images/"] } });
    expect(error.suggestion).toBe(`check the path: a relative path is taken from the current folder, ${process.cwd()}`);
  });

  it("gives each refusal of the paths its own code", async () => {
    const code = async (paths: string[]) =>
      ((await walkPaths(paths).catch((e: unknown) => e)) as ViValidationError).code;
    touch("empty/readme.md");
    touch("a/x.jpg");
    touch("b/x.jpg");
    expect(await code([touch("notes.txt")])).toBe("UnsupportedFileType");
    expect(await code([join(dir, "empty")])).toBe("NoImagesFound");
    expect(await code([join(dir, "a"), join(dir, "b")])).toBe("DuplicateFilename");
    expect(await code(["/dev/null"])).toBe("NotAFileOrFolder");
  });

  it("refuses two files that map to the same filename, listing them", async () => {
    touch("a/x.jpg");
    touch("b/x.jpg");
    const err = await walkPaths([join(dir, "a"), join(dir, "b")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ViValidationError);
    expect((err as Error).message).toContain(join(dir, "a", "x.jpg"));
    expect((err as Error).message).toContain(join(dir, "b", "x.jpg"));
  });

  it("keeps one copy of a file reached twice", async () => {
    const file = touch("a/x.jpg");
    expect(await walkPaths([join(dir, "a"), file, file])).toHaveLength(1);
  });

  it("refuses a folder with no supported images, and an empty list", async () => {
    touch("empty/readme.md");
    await expect(walkPaths(join(dir, "empty"))).rejects.toThrow(
      /no supported images under .*empty \(supported: .*\); found only: 1 file: unsupported type \.md \(1\)$/,
    );
    await expect(walkPaths([])).rejects.toThrow(ViValidationError);
  });

  it("maps extensions to MIME types", () => {
    expect(mimeForFilename("a/B.JFIF")).toBe("image/jpeg");
    expect(mimeForFilename("x.j2k")).toBe("image/jp2");
    expect(mimeForFilename("x.tif")).toBe("image/tiff");
    expect(mimeForFilename("x.svg")).toBeUndefined();
  });
});
