import { describe, expect, it } from "vitest";
import { reflow } from "../src/help.js";
import { cli, Sink } from "./harness.js";

/** A terminal `columns` wide, as process.stdout is on one. */
function terminal(columns: number): Sink {
  return Object.assign(new Sink(), { isTTY: true, columns });
}

const GLOBAL_FLAGS = [
  "--version",
  "--endpoint <url>",
  "--secret-key <key>",
  "--organization-id <id>",
  "--config <file>",
  "--json",
  "--quiet",
];

/** Lines wider than `columns`, but the Usage line (commander's, one synopsis) and example commands. */
const tooWide = (text: string, columns: number) =>
  text.split("\n").filter((line) => line.length > columns && !line.startsWith("Usage:") && !/^ {2}vi-cli /.test(line));

describe("help fits the terminal, global options included", () => {
  const commands = [
    [],
    ["assets", "upload"],
    ["assets", "list"],
    ["assets", "download"],
    ["assets", "bulk-delete"],
    ["assets", "update"],
    ["datasets", "create"],
    ["serve"],
  ];

  it.each([40, 50, 60, 80, 100])("at %i columns every line fits", async (columns) => {
    for (const command of commands) {
      const stdout = terminal(columns);
      const r = await cli([...command, "--help"], undefined, { stdout });
      expect(r.code).toBe(0);
      expect(tooWide(stdout.text, columns), `${command.join(" ")} --help at ${columns} columns`).toEqual([]);
      if (command.length > 0) {
        expect(stdout.text).toMatch(/^Global Options:$/m);
        for (const flag of GLOBAL_FLAGS) expect(stdout.text).toContain(flag);
      }
    }
  });

  it("on a narrow terminal an option's description goes under it, wrapped", async () => {
    const stdout = terminal(50);
    await cli(["assets", "upload", "--help"], undefined, { stdout });
    expect(stdout.text).toContain(
      "  --secret-key <key>\n      secret key (prefer env\n      DATATURE_VI_SECRET_KEY: flags leak into\n      shell history and process listings)\n",
    );
  });

  it("not on a terminal, help is 80 columns wide", async () => {
    const r = await cli(["assets", "upload", "--help"]);
    expect(tooWide(r.stdout, 80)).toEqual([]);
    expect(r.stdout).toMatch(
      /^ {2}--secret-key <key> {7}secret key \(prefer env DATATURE_VI_SECRET_KEY: flags\n {27}leak into/m,
    );
  });

  it("reflow re-wraps paragraphs, hangs table rows (or stacks them when narrow), keeps examples", () => {
    const text =
      "First line of a\nparagraph that goes on.\n\n  -q     quiet output for scripts\n  vi-cli assets list ds1";
    expect(reflow(text, 60)).toBe(
      "First line of a paragraph that goes on.\n\n  -q     quiet output for scripts\n  vi-cli assets list ds1",
    );
    expect(reflow(text, 40).split("\n")).toEqual([
      "First line of a paragraph that goes on.",
      "",
      "  -q     quiet output for scripts",
      "  vi-cli assets list ds1",
    ]);
    expect(reflow(text, 24).split("\n")).toEqual([
      "First line of a",
      "paragraph that goes on.",
      "",
      "  -q",
      "      quiet output for",
      "      scripts",
      "  vi-cli assets list ds1",
    ]);
  });
});
