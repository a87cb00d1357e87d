import { describe, expect, it } from "vitest";
import { matches, parseQuery, type QueryableAsset } from "../src/query/index.js";

/** The evaluator is the oracle of the property tests: its semantics are checked here, by example. */
const base: QueryableAsset = {
  assetId: "Asset-1",
  filename: "Cats/İstanbul-Straße.JPG",
  fileSize: 2_000_000,
  mimeType: "image/jpeg",
  width: 640,
  height: 480,
  frames: 1,
  status: "uploaded",
  uploadStatus: "completed",
  createdAt: Date.UTC(2024, 5, 1),
  updatedAt: Date.UTC(2024, 5, 2),
  contentsUpdatedAt: Date.UTC(2024, 5, 3),
  annotationTotal: 3,
  annotationTags: { car: 2, "traffic light": 1 },
  customMetadata: { camera: "Front", score: 0.9, reviewed: true, count: 3, label: "😀 Car" },
};

const match = (text: string, strict = false, asset = base) => matches(parseQuery(text), asset, { strict });

describe("matches", () => {
  it("compares custom keys by type: a number literal only meets numbers, and so on", () => {
    expect(match("score >= 0.8")).toBe(true);
    expect(match('score == "0.9"')).toBe(false);
    expect(match("reviewed == true")).toBe(true);
    expect(match("reviewed == 1")).toBe(false);
    expect(match("count == 3")).toBe(true);
    expect(match('count < "4"')).toBe(false);
    expect(match('count in ["3", true, 3]')).toBe(true);
    expect(match('camera in [1, "front"]')).toBe(true);
    expect(match('score startsWith "0"')).toBe(false);
  });

  it("makes != the negation of ==: missing keys and other types match it", () => {
    expect(match('missing != "x"')).toBe(true);
    expect(match('missing == "x"')).toBe(false);
    expect(match('score != "0.9"')).toBe(true);
    expect(match("score != 0.9")).toBe(false);
    expect(match("not missing == 1")).toBe(true);
    expect(match("missing < 1 or missing >= 1")).toBe(false);
    expect(match("not (missing < 1 or missing >= 1)")).toBe(true);
  });

  it("folds strings unless strict; asset ids never", () => {
    expect(match('camera == "FRONT"')).toBe(true);
    expect(match('camera == "FRONT"', true)).toBe(false);
    expect(match('camera == "Front"', true)).toBe(true);
    expect(match('filename startsWith "cats/i̇stanbul"')).toBe(true);
    expect(match('filename startsWith "CATS/İSTANBUL"')).toBe(true);
    expect(match('filename startsWith "cats/"', true)).toBe(false);
    expect(match('filename contains "straße"')).toBe(true);
    expect(match('filename contains "STRASSE"')).toBe(false);
    expect(match('metadata.mimeType == "IMAGE/JPEG"')).toBe(true);
    expect(match('metadata.mimeType == "IMAGE/JPEG"', true)).toBe(false);
    expect(match('metadata.status in ["Uploaded"]')).toBe(true);
    expect(match('assetId == "asset-1"')).toBe(false);
    expect(match('assetId == "Asset-1"')).toBe(true);
    expect(match('label contains "car"')).toBe(true);
    expect(match('label contains "car"', true)).toBe(false);
  });

  it("orders strings by code point, not by UTF-16 unit", () => {
    const asset = { ...base, customMetadata: { s: "\uffff" } };
    expect(match('s < "😀"', false, asset)).toBe(true);
    expect(match('s > "😀"', false, asset)).toBe(false);
    expect(match('s > "\ue000"', false, asset)).toBe(true);
    expect(match('filename > "cats"')).toBe(true);
    expect(match('filename > "cats"', true)).toBe(false);
  });

  it("reads built-in fields", () => {
    expect(match("metadata.fileSize > 1000000 and metadata.width == 640 and metadata.height < 500")).toBe(true);
    expect(match("metadata.frames == 1 and metadata.annotations.total == 3")).toBe(true);
    expect(match('metadata.timeCreated >= "2024-06-01" and metadata.timeCreated < "2024-06-01T00:00:00.001Z"')).toBe(
      true,
    );
    expect(match(`metadata.lastUpdated == ${Date.UTC(2024, 5, 2)}`)).toBe(true);
    expect(match('metadata.contentsLastUpdated > "2024-06-03"')).toBe(false);
    expect(match('metadata.uploadStatus == "completed" and metadata.uploadStatus == "COMPLETED"')).toBe(true);
    expect(match('metadata.uploadStatus == "COMPLETED"', true)).toBe(false);
  });

  it("counts tags exactly by name; exists means at least one", () => {
    expect(match("metadata.annotations.withTag.car == 2")).toBe(true);
    expect(match('metadata.annotations.withTag["traffic light"] >= 1')).toBe(true);
    expect(match("metadata.annotations.withTag.Car == 0")).toBe(true);
    expect(match("metadata.annotations.withTag.bus == 0 and not exists(metadata.annotations.withTag.bus)")).toBe(true);
    expect(match("exists(metadata.annotations.withTag.car)")).toBe(true);
    expect(match("metadata.annotations.withTag.constructor == 0")).toBe(true);
  });

  it("treats exists: custom keys present, built-ins always", () => {
    expect(match("exists(camera) and not exists(missing)")).toBe(true);
    expect(match("exists(metadata.fileSize) and exists(filename) and exists(metadata.uploadStatus)")).toBe(true);
    expect(match("exists(constructor) or exists(toString)")).toBe(false);
  });

  it("matches empty prefixes and parts of any string value, and no value of another type", () => {
    expect(match('camera startsWith ""')).toBe(true);
    expect(match('camera contains ""')).toBe(true);
    expect(match('score contains ""')).toBe(false);
    expect(match('missing startsWith ""')).toBe(false);
  });

  it("matches nothing with an empty list", () => {
    expect(match("camera in []")).toBe(false);
    expect(match("not camera in []")).toBe(true);
  });
});
