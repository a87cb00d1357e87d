import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueJpeg } from "../helpers/jpeg.mjs";
import { serve, userEnv, viCli, viCliOnTty, type Served } from "./helpers.js";

/**
 * What a terminal shows: the lines that ended (each in the state it was last redrawn to) and
 * every state drawn, without the escapes that clear a line.
 */
function screen(output: string): { lines: string[]; frames: string[] } {
  const clean = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
  const ended = output.split("\r\n");
  return {
    lines: ended.map((line) => clean(line.split("\r").at(-1) ?? "")),
    frames: output
      .split(/\r\n|\r/)
      .map(clean)
      .filter((f) => f !== ""),
  };
}

/** The real CLI on a pseudo-terminal (util-linux `script`), against `vi-cli serve`. */
describe("vi-cli on a terminal", () => {
  let home: string;
  let server: Served;
  let env: NodeJS.ProcessEnv;
  const newDataset = async (name: string): Promise<string> =>
    (JSON.parse((await viCli(["datasets", "create", name, "--json"], home, env)).stdout) as { datasetId: string })
      .datasetId;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "vi-terminal-"));
    env = userEnv(home);
    server = await serve(home, env);
    await mkdir(join(home, "seven"));
    for (let i = 0; i < 7; i++) await writeFile(join(home, "seven", `p${i}.jpg`), uniqueJpeg());
  });
  afterAll(async () => {
    await server?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("upload: hashing counts every file, and every stage ends on its own line at 100%", async () => {
    const { code, output } = await viCliOnTty(["assets", "upload", await newDataset("one batch"), "seven"], home, env, {
      columns: 120,
    });
    expect(code, output).toBe(0);
    const { lines } = screen(output);
    expect(lines).toContainEqual(expect.stringMatching(/^Hashing +\[#{20}\] 100% {2}7\/7 files {2}\S+ KiB\/\S+ KiB /));
    expect(lines).toContainEqual(
      expect.stringMatching(/^Uploading +\[#{20}\] 100% {2}7\/7 files {2}\S+ KiB\/\S+ KiB /),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^Processing +\[#{20}\] 100% {2}1\/1 batch$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}Files: +7 total, 7 succeeded, 0 failed$/));
  });

  it("upload in several batches: the bars count every file, not the first batch", async () => {
    const datasetId = await newDataset("three batches");
    const { code, output } = await viCliOnTty(
      ["assets", "upload", datasetId, "seven", "--batch-size", "3"],
      home,
      env,
      {
        columns: 120,
      },
    );
    expect(code, output).toBe(0);
    const { lines, frames } = screen(output);
    for (const frame of frames.filter((f) => /^(Hashing|Uploading) /.test(f))) expect(frame).toMatch(/ \d\/7 files /);
    expect(lines).toContainEqual(expect.stringMatching(/^Uploading +\[#{20}\] 100% {2}7\/7 files /));
    expect(lines).toContainEqual(expect.stringMatching(/^Processing +\[#{20}\] 100% {2}3\/3 batches$/));
  });

  it("download: the bar starts with what is listed, never at 0/0, and ends at 100%", async () => {
    const datasetId = await newDataset("to download");
    expect((await viCli(["assets", "upload", datasetId, "seven"], home, env)).code).toBe(0);
    const { code, output } = await viCliOnTty(["assets", "download", datasetId, "copy"], home, env, { columns: 120 });
    expect(code, output).toBe(0);
    const { lines, frames } = screen(output);
    expect(frames.filter((f) => /0\/0 files|0 B\/0 B/.test(f))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^Download +\[#{20}\] 100% {2}7\/7 files {2}\S+ KiB\/\S+ KiB /));
    expect(lines).toContainEqual(expect.stringMatching(/^Downloaded 7 asset\(s\) \(\S+ KiB\) to /));
  });

  it("serve with VI_LOG_LEVEL=debug writes its log for a person on a terminal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vi-serve-log-"));
    try {
      let asked = false;
      let stopped = false;
      const { code, output } = await viCliOnTty(
        ["serve", "--port", "0"],
        dir,
        userEnv(dir, { VI_LOG_LEVEL: "debug" }),
        {
          columns: 160,
          onOutput: (text, child) => {
            const url = /listening on (http:\/\/\S+)/.exec(text)?.[1];
            if (!asked && url !== undefined && text.includes("Press Ctrl-C to stop")) {
              asked = true;
              void fetch(`${url}/nope`).then((r) => r.text());
            }
            if (!stopped && /request completed/.test(text)) {
              stopped = true;
              child.stdin?.write("\x03");
            }
          },
        },
      );
      expect(code, output).toBe(0);
      const text = screen(output).lines.join("\n");
      expect(text).toMatch(/^\d\d:\d\d:\d\d INFO {2}incoming request GET \/nope reqId=\S+$/m);
      expect(text).toMatch(/^\d\d:\d\d:\d\d INFO {2}request completed 404 [\d.]+ ms reqId=\S+$/m);
      expect(text).not.toContain('{"level"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("subcommand help fits a narrow terminal, its global options too", async () => {
    const { code, output } = await viCliOnTty(["assets", "upload", "--help"], home, env, { columns: 60 });
    expect(code).toBe(0);
    const { lines } = screen(output);
    expect(lines).toContain("Global Options:");
    expect(lines.filter((l) => l.length > 60 && !l.startsWith("Usage:"))).toEqual([]);
    expect(output).toContain("--secret-key <key>");
  });
});
