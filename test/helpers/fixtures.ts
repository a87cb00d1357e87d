import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The image fixtures (copied from the shared set) and their ground truth. */
export const FIXTURES = join(import.meta.dirname, "..", "..", "test-fixtures", "images");

export interface ExpectedImage {
  mimeType: string;
  width: number;
  height: number;
  frames: number;
  rawWidth?: number;
  rawHeight?: number;
  orientation?: number;
}

export interface FixtureManifest {
  valid: Record<string, ExpectedImage>;
  invalid: Record<string, string>;
  mislabelled: Record<string, ExpectedImage>;
  hostile: Record<string, ExpectedImage>;
}

export const loadManifest = (): FixtureManifest =>
  JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as FixtureManifest;
