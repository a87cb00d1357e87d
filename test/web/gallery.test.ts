import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import type { Asset } from "@vi/protocol";
import { FIXTURES, startTestServer, type TestServer } from "../helpers/server.js";
import { scaleout } from "../helpers/test-database.mjs";
import { launchBrowser, screenshot, seriousViolations, type Browser } from "./browser.js";
import { join } from "node:path";
import { readdirSync, readFileSync } from "node:fs";

/**
 * The gallery end to end in headless Chromium against a real server: sign in, create a
 * dataset, upload the fixture folder through the folder input, see every thumbnail, query (and
 * a query error at its position), open an asset (zoom, pan, frames), edit custom metadata,
 * keyboard navigation, select many and bulk delete after the dry run's count; axe-core on each
 * view. Screenshots go to docs/screenshots/ (the README shows them).
 */
describe("the web gallery in a browser", () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  const folder = join(FIXTURES, "valid");
  const fixtureCount = readdirSync(folder).length;
  const pngCount = readdirSync(folder).filter((f) => f.endsWith(".png")).length;

  const grid = () => page.getByTestId("asset-grid");
  const tiles = () => grid().getByRole("option");
  const expectAccessible = async () => expect(await seriousViolations(page)).toEqual([]);
  const assetsOf = async (datasetId: string): Promise<Asset[]> => {
    const all: Asset[] = [];
    for await (const p of t.client.assets.list({ datasetId, pageSize: 1000 })) all.push(...p.items);
    return all;
  };
  let datasetId: string;

  beforeAll(async () => {
    t = await startTestServer();
    browser = await launchBrowser();
    page = browser.page;
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it("serves the app at / with a strict CSP, and sends a signed-out visitor to sign in", async () => {
    const response = await page.goto(`${t.server.url}/`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    // The first load's weight, as sent (the server answers precompressed files): under 300 kB.
    const weight = await page.evaluate(() =>
      performance
        .getEntries()
        .filter((e): e is PerformanceResourceTiming => "encodedBodySize" in e)
        .reduce((n, e) => n + e.encodedBodySize, 0),
    );
    console.log(`gallery first load: ${weight} bytes as sent`);
    expect(weight).toBeGreaterThan(10_000);
    expect(weight).toBeLessThan(300_000);
    await expectAccessible();
  });

  it("signs in, keeping the key in session storage only", async () => {
    await page.getByLabel("Organization").fill(t.organizationId);
    await page.getByLabel("Secret key").fill("dtvi_short");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "103 characters" }).waitFor();
    await page.getByLabel("Secret key").fill(t.secretKey);
    await screenshot(page, "sign-in");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Datasets" }).waitFor();
    expect(page.url()).not.toContain(t.secretKey);
    const stored = await page.evaluate(() => ({
      session: JSON.stringify(sessionStorage),
      local: JSON.stringify(localStorage),
    }));
    expect(stored.session).toContain(t.secretKey);
    expect(stored.local).not.toContain(t.secretKey);
  });

  it("creates a dataset and lists it with its counts", async () => {
    await page.getByLabel("New dataset").fill("Fixtures");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("link", { name: "Fixtures" }).waitFor();
    datasetId = (await t.client.datasets.list()).items.find((d) => d.name === "Fixtures")!.datasetId;
    await expectAccessible();
  });

  it("uploads a folder of all nine formats and shows every thumbnail", async () => {
    await page.getByRole("link", { name: "Fixtures" }).click();
    await page.getByTestId("folder-input").setInputFiles(folder);
    const summary = page.getByTestId("upload-summary");
    await summary.filter({ hasText: "Finished" }).waitFor({ timeout: 60_000 });
    expect(await summary.textContent()).toContain(`${fixtureCount} of ${fixtureCount} uploaded`);
    expect(await page.locator(".upload-files li[data-state=done]").count()).toBe(fixtureCount);
    // Thumbnails appear as processing ends, without a reload.
    await page.waitForFunction(
      (n) => {
        const imgs = [...document.querySelectorAll<HTMLImageElement>("[data-testid=asset-grid] [role=option] img")];
        return imgs.length === n && imgs.every((img) => img.complete && img.naturalWidth > 0);
      },
      fixtureCount,
      { timeout: 90_000 },
    );
    expect(await tiles().count()).toBe(fixtureCount);
    expect((await assetsOf(datasetId)).map((a) => a.filename).sort()).toEqual(
      readdirSync(folder)
        .map((f) => `valid/${f}`)
        .sort(),
    );
    await screenshot(page, "grid");
    await expectAccessible();
  });

  it("queries with the query language, keeps the view in the URL, and shows an error at its position", async () => {
    const input = page.getByLabel("Query");
    await input.fill('metadata.mimeType == "image/png"');
    await input.press("Enter");
    await page.waitForFunction(
      (n) => document.querySelectorAll("[data-testid=asset-grid] [role=option]").length === n,
      pngCount,
    );
    expect(new URL(page.url()).searchParams.get("q")).toBe('metadata.mimeType == "image/png"');
    // The URL holds the view: a reload shows the same selection.
    await page.reload();
    await page.waitForFunction(
      (n) => document.querySelectorAll("[data-testid=asset-grid] [role=option] img").length === n,
      pngCount,
    );
    expect(await page.getByTestId("view-count").textContent()).toContain(`${pngCount} assets match`);
    // A filter control writes the language into the search bar.
    await page.getByLabel("Format").selectOption("image/gif");
    await expect.poll(() => input.inputValue()).toBe('metadata.mimeType == "image/gif"');
    // A malformed query: the server's message, and a mark under the character where it went wrong.
    await input.fill("metadata.width > ");
    await input.press("Enter");
    const error = page.locator("#query-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/value/i);
    const marked = await error.locator("pre").getAttribute("aria-label");
    // "metadata.width >" (trimmed): the value is missing at its end, character 17.
    expect(marked).toBe("at character 17");
    expect(await input.getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "query-error");
    await expectAccessible();
  });

  it("opens an asset: zoom and pan, frames of an animation, next and previous by keyboard", async () => {
    // An annotation to draw over the image (fractions of its width and height).
    const [animated] = (await assetsOf(datasetId)).filter((a) => a.filename === "valid/animated.gif");
    await t.client.annotations.create({
      datasetId,
      assetId: animated!.assetId,
      tag: "square",
      bbox: [0.1, 0.2, 0.5, 0.6],
    });
    await page.getByLabel("Query").fill('filename startsWith "valid/animated"');
    await page.getByLabel("Query").press("Enter");
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=asset-grid] [role=option] img").length === 2,
    );
    await page.getByLabel("Sort by").selectOption("filename");
    await expect.poll(() => new URL(page.url()).searchParams.get("sort")).toBe("filename");
    await expect.poll(() => tiles().first().getAttribute("aria-label")).toMatch(/^valid\/animated\.gif/);
    await tiles().first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: /valid\/animated/ }).waitFor();
    const first = await dialog.getByRole("heading").first().textContent();
    await dialog.getByRole("button", { name: "Zoom in" }).click();
    await dialog.getByRole("button", { name: "Zoom in" }).click();
    expect(await page.getByTestId("zoom-level").textContent()).toBe("156%");
    const stage = page.getByTestId("viewer-stage");
    const box = (await stage.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 30, { steps: 4 });
    await page.mouse.up();
    expect(await page.getByTestId("viewer-canvas").getAttribute("style")).toContain("translate(60px, 30px)");
    // Sorted by filename, the GIF comes first: its annotation is drawn where it belongs.
    const drawn = page.locator(".annotation-overlay rect");
    expect(await drawn.getAttribute("x")).toBe("0.1");
    expect(await drawn.getAttribute("width")).toBe("0.4");
    expect(await dialog.getByRole("list", { name: "Annotations" }).textContent()).toContain("square");
    await dialog.getByRole("button", { name: /Step through \d+ frames/ }).click();
    const frame = page.getByTestId("frame-number");
    expect(await frame.textContent()).toMatch(/^Frame 1 of \d+$/);
    await dialog.getByRole("button", { name: "Next frame" }).click();
    expect(await frame.textContent()).toMatch(/^Frame 2 of \d+$/);
    await dialog.getByRole("button", { name: "Fit" }).click();
    expect(await page.getByTestId("zoom-level").textContent()).toBe("100%");
    await screenshot(page, "asset-detail");
    await expectAccessible();
    // j / k: the next and the previous asset of the view.
    await page.getByRole("heading", { name: first! }).click();
    await page.keyboard.press("j");
    await expect.poll(() => dialog.getByRole("heading").first().textContent()).not.toBe(first);
    await page.keyboard.press("k");
    await expect.poll(() => dialog.getByRole("heading").first().textContent()).toBe(first);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
  });

  it("edits custom metadata, keeping each value's type", async () => {
    await tiles().first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Add a key" }).click();
    await dialog.getByLabel("Key 1", { exact: true }).fill("reviewer");
    await dialog.getByLabel("Value of reviewer", { exact: true }).fill("ada");
    await dialog.getByRole("button", { name: "Add a key" }).click();
    await dialog.getByLabel("Key 2", { exact: true }).fill("score");
    await dialog.getByLabel("Type of score", { exact: true }).selectOption("number");
    await dialog.getByLabel("Value of score", { exact: true }).fill("0.75");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const assetId = await page.locator("[role=option]").first().getAttribute("data-asset-id");
    const asset = await t.client.assets.get({ datasetId, assetId: assetId! });
    expect(asset.metadata.customMetadata).toEqual({ reviewer: "ada", score: 0.75 });
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
  });

  it("moves through the grid by keyboard and selects with Space", async () => {
    await page.getByLabel("Query").fill("");
    await page.getByLabel("Query").press("Enter");
    await page.waitForFunction(
      (n) => document.querySelectorAll("[data-testid=asset-grid] [role=option] img").length === n,
      fixtureCount,
    );
    await tiles().first().focus();
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("tile-1");
    await page.keyboard.press("ArrowDown");
    // Focus moves after the row is scrolled into view (next animation frame).
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).not.toBe("tile-1");
    const down = await page.evaluate(() => Number(document.activeElement?.id.replace("tile-", "")));
    expect(down).toBeGreaterThan(1);
    await page.keyboard.press("Space");
    expect(await page.getByTestId("selection-count").textContent()).toBe("1 selected");
    // The selection downloads from its signed URL, named after the file.
    const selectedName = await page.locator(".tile.selected").getAttribute("data-asset-id");
    const expected = (await assetsOf(datasetId)).find((a) => a.assetId === selectedName)!;
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(expected.filename.split("/").pop());
    await tiles().nth(down).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Clear selection" }).click();
  });

  it("selects many (click, shift-click) and bulk deletes them after the dry run's count", async () => {
    const before = (await assetsOf(datasetId)).length;
    await tiles()
      .nth(2)
      .click({ modifiers: ["Control"] });
    await tiles()
      .nth(5)
      .click({ modifiers: ["Shift"] });
    expect(await page.getByTestId("selection-count").textContent()).toBe("4 selected");
    const chosen = await Promise.all([2, 3, 4, 5].map((i) => tiles().nth(i).getAttribute("data-asset-id")));
    await page.getByRole("button", { name: "Delete…" }).click();
    const confirm = page.getByRole("dialog");
    await confirm.getByTestId("dry-run-count").waitFor();
    expect(await confirm.getByTestId("dry-run-count").textContent()).toContain("counted 4 assets");
    // The dry run deleted nothing.
    expect((await assetsOf(datasetId)).length).toBe(before);
    await screenshot(page, "bulk-delete");
    await expectAccessible();
    await confirm.getByRole("button", { name: "Delete 4 assets" }).click();
    await page.getByRole("status").filter({ hasText: "Deleted 4 assets." }).waitFor();
    const left = await assetsOf(datasetId);
    expect(left.length).toBe(before - 4);
    expect(left.some((a) => chosen.includes(a.assetId))).toBe(false);
    await page.waitForFunction(
      (n) => document.querySelectorAll("[data-testid=asset-grid] [role=option]").length === n,
      before - 4,
    );
  });

  it("selects all that match a query and bulk deletes them by that query", async () => {
    const input = page.getByLabel("Query");
    await input.fill('metadata.mimeType == "image/png"');
    await input.press("Enter");
    await page
      .getByTestId("view-count")
      .filter({ hasText: `${pngCount} assets match` })
      .waitFor();
    await page.getByRole("button", { name: "Select all matching" }).click();
    expect(await page.getByTestId("selection-count").textContent()).toBe(`All ${pngCount} matching selected`);
    await page.getByRole("button", { name: "Delete…" }).click();
    const confirm = page.getByRole("dialog");
    expect(await confirm.getByTestId("dry-run-count").textContent()).toContain(`counted ${pngCount} assets`);
    await confirm.getByRole("button", { name: `Delete ${pngCount} assets` }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Deleted ${pngCount} assets.` })
      .waitFor();
    const left = await assetsOf(datasetId);
    expect(left.length).toBe(fixtureCount - 4 - pngCount);
    expect(left.some((a) => a.metadata.mimeType === "image/png")).toBe(false);
    await page.getByTestId("view-count").filter({ hasText: "0 assets match" }).waitFor();
  });

  it("takes dropped files, and reports each failed file with its code (FailAfterAll)", async () => {
    const dropped = ["notes-not-image.png", "truncated.jpg"].map((name) => ({
      name,
      base64: readFileSync(join(FIXTURES, "invalid", name)).toString("base64"),
    }));
    await page.evaluate((files) => {
      const data = new DataTransfer();
      for (const f of files) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        data.items.add(new File([bytes], f.name));
      }
      const zone = document.querySelector("[data-testid=drop-zone]")!;
      zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }, dropped);
    const summary = page.getByTestId("upload-summary");
    await summary.filter({ hasText: "Finished" }).waitFor({ timeout: 60_000 });
    expect(await summary.textContent()).toContain("0 of 2 uploaded, 2 failed");
    const failed = page.locator(".upload-files li[data-state=error]");
    expect(await failed.count()).toBe(2);
    expect(await failed.filter({ hasText: "notes-not-image.png" }).locator("code").textContent()).toBe("EBADMIME");
    expect(await failed.filter({ hasText: "truncated.jpg" }).locator("code").textContent()).toMatch(/^E[A-Z]+$/);
    await expectAccessible();
  });

  it("shows the datasets with their counts, and reported no console error", async () => {
    await page.getByRole("link", { name: "Datasets", exact: true }).first().click();
    const row = page.getByRole("row", { name: /Fixtures/ });
    await row.waitFor();
    await expect.poll(() => row.getByRole("cell").first().textContent()).toBe(String(fixtureCount - 4 - pngCount));
    await screenshot(page, "datasets");
    // Deleting a dataset asks first, and a cancel keeps it.
    await page.getByLabel("New dataset").fill("Scratch");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("button", { name: "Delete Scratch" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    expect(await page.getByRole("link", { name: "Scratch" }).count()).toBe(1);
    await page.getByRole("button", { name: "Delete Scratch" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete dataset" }).click();
    await page.getByRole("link", { name: "Scratch" }).waitFor({ state: "detached" });
    expect((await t.client.datasets.list()).items.map((d) => d.name)).toEqual(["Fixtures"]);
    await expectAccessible();
    // The 400s are the malformed query's answer and the two refused files' PUTs (with a bucket,
    // the store takes those PUTs, and the server refuses the files when it verifies them);
    // anything else (a CSP refusal, a CORS refusal, an exception, another failed request) fails.
    expect(browser.problems.filter((p) => !p.includes("status of 400 (Bad Request)"))).toEqual([]);
    expect(browser.problems.length).toBe(scaleout() ? 1 : 3);
  });
});
