import { describe, expect, it } from "vitest";
import { escapeTerminal } from "../src/output.js";
import { asset, cli, dataset, fakeClient, pagesOf } from "./harness.js";

const HOSTILE = "evil\u001b]0;owned\u0007\u001b[31mred\rover\nfake row\u202eexe.png\u0085";

/** Names and messages from the server never drive the terminal: controls are shown escaped. */
describe("terminal controls in human output", () => {
  it("escapeTerminal escapes ANSI/OSC, CR, LF, C1 and bidi overrides, and keeps plain text", () => {
    expect(escapeTerminal(HOSTILE)).toBe(
      "evil\\u001b]0;owned\\u0007\\u001b[31mred\\rover\\nfake row\\u202eexe.png\\u0085",
    );
    expect(escapeTerminal("line one\nline two", true)).toBe("line one\nline two");
    expect(escapeTerminal("café 日本 😀 tab\there")).toBe("café 日本 😀 tab\there");
  });

  it("datasets list, assets list and asset details print hostile names escaped", async () => {
    const client = fakeClient();
    client.datasets.list.mockReturnValue(pagesOf([[dataset({ name: HOSTILE })]]));
    client.assets.list.mockReturnValue(pagesOf([[asset("a1", HOSTILE)]]));
    client.assets.get.mockResolvedValue(asset("a1", HOSTILE));
    for (const argv of [
      ["datasets", "list"],
      ["assets", "list", "ds1"],
      ["assets", "get", "ds1", "a1"],
    ]) {
      const r = await cli(argv, client);
      expect(r.code, argv.join(" ")).toBe(0);
      // No raw control or bidi character reaches the terminal; the name cannot fake a row.
      expect(r.stdout, argv.join(" ")).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      expect(r.stdout).toContain("\\u001b]0;owned");
      expect(r.stdout.split("\n").some((l) => l.startsWith("fake row"))).toBe(false);
    }
  });
});
