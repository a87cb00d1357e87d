import { spawn } from "node:child_process";
import { cp, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, serve, userEnv, type Run, type Served } from "./helpers.js";

const README = join(ROOT, "README.md");

/** The fenced code blocks of a README section (from its `## title` to the next `## `), by language. */
async function blocks(title: string, lang: string): Promise<string[]> {
  const text = await readFile(README, "utf8");
  const start = text.indexOf(`\n## ${title}\n`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThan(-1);
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]!);
}

/** A line of a README block, run by the shell as a user's terminal would, in `cwd`. */
function sh(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", line], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const listFiles = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

/**
 * A fresh clone as the README has it: the repository's files (its examples/ folder and its
 * installed node_modules) in a folder of its own, the server started there as `npm start` starts
 * it, then the README's commands run as printed.
 */
describe("the README's quickstarts run as printed", () => {
  let clone: string;
  let server: Served;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    clone = await mkdtemp(join(tmpdir(), "vi-readme-"));
    await symlink(join(ROOT, "node_modules"), join(clone, "node_modules"));
    // What a clone has of examples/: not the quickstarts' downloads from an earlier run here (git ignores them).
    const downloads = new Set(["copy", "sdk-copy"].map((d) => join(ROOT, "examples", d)));
    await cp(join(ROOT, "examples"), join(clone, "examples"), {
      recursive: true,
      filter: (path) => !downloads.has(path),
    });
    env = userEnv(clone, { npm_config_update_notifier: "false" });
    server = await serve(clone, env);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(clone, { recursive: true, force: true });
  });

  it("`npm start` builds and runs vi-cli serve, as the tests start it here", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe("npm run build --silent && node packages/cli/bin/vi-cli.js serve");
    const text = await readFile(README, "utf8");
    expect(text).toContain("npm start");
  });

  it("the CLI quickstart: every command succeeds, on the sample images a clone has", async () => {
    const [block] = await blocks("Quickstart with the CLI", "sh");
    const lines = block!.split("\n").filter((l) => l.trim() !== "");
    expect(lines.every((l) => l.startsWith("npx vi-cli "))).toBe(true);
    const ids: Record<string, string> = {};
    const outputs: string[] = [];
    for (const printed of lines) {
      const line = printed.replace(/<(datasetId|assetId)>/g, (_, name: string) => {
        expect(ids[name], `${name} is known before: ${printed}`).toBeDefined();
        return ids[name]!;
      });
      const r = await sh(line, clone, env);
      expect(r.code, `${printed}\n${r.stderr}`).toBe(0);
      outputs.push(r.stdout);
      const created = /^Created dataset (\S+) /m.exec(r.stdout);
      if (created) ids.datasetId = created[1]!;
      if (/ assets list /.test(line)) ids.assetId = r.stdout.split("\n")[1]!.split(/\s+/)[0]!;
    }
    const all = outputs.join("\n");
    expect(all).toMatch(/Files: +5 total, 5 succeeded, 0 failed/);
    expect(all).toMatch(/ photo\.jpg +640x480 +image\/jpeg +51\.7 KiB +camera=a iso=200/);
    expect(all).toMatch(/Download URL: +http:\/\/127\.0\.0\.1:\d+\//);
    expect(all).toMatch(/^Downloaded 5 asset\(s\) \(\S+ KiB\) to /m);
    expect(all).toMatch(/^Secret key: +dtvi_/m);
    expect(await listFiles(join(clone, "examples", "copy"))).toEqual([
      "gray.png",
      "lossy.webp",
      join("night", "legacy.jfif"),
      "photo.jpg",
      "static.gif",
    ]);
  });

  it("the SDK quickstart is examples/quickstart.mjs, and `node examples/quickstart.mjs` runs it", async () => {
    const [command] = await blocks("Quickstart with the SDK", "sh");
    expect(command).toBe("node examples/quickstart.mjs\n");
    const [code] = await blocks("Quickstart with the SDK", "js");
    expect(code).toBe(await readFile(join(ROOT, "examples", "quickstart.mjs"), "utf8"));
    // The README's text itself, saved where the README says it lives, run as the README says.
    await writeFile(join(clone, "examples", "quickstart.mjs"), code!);
    const r = await sh(command!.trim(), clone, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Upload summary\n {2}Files: +5 total, 5 succeeded, 0 failed$/m);
    expect(r.stdout).toMatch(/^photo\.jpg 640 480$/m);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\S+\?expires=/m);
    expect(r.stdout).toContain(`Downloaded 5 files to ${join(clone, "examples", "sdk-copy")}`);
  });
});
