import Database from "better-sqlite3";
import fc from "fast-check";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compileWhere,
  driverCandidates,
  matches,
  parseQuery,
  printQuery,
  type BuiltinName,
  type CompareOp,
  type Expr,
  type Field,
  type Literal,
  type QueryableAsset,
} from "../src/query/index.js";
import { fieldRows, fold, migrationProvider } from "../src/store/metadata/migrations.js";
import type { Database as Schema } from "../src/store/metadata/schema.js";
import { newPool } from "../src/store/metadata/postgres.js";
import { createTestDatabase, scaleout } from "../../../test/helpers/test-database.mjs";

/**
 * The SQL of compileWhere, run by a real SQLite over random assets, selects exactly the assets
 * that matches() accepts; and printing a tree then parsing it gives the tree back.
 */

// ---- random assets, from small pools so that comparisons hit ----

/** Pieces of strings: case pairs, folds that change length (İ, ß), non-BMP and high-BMP characters. */
const PIECES = ["a", "A", "/", "😀", "İ", "i", "ß", "S", "É", "Σ", "ς", "\ue000", "\uffff", "\u{10ffff}"];
/** Whole words that fold alike ("ab", "Ab", "AB"; "İ" and "i̇"; "Σ", "σ"), so strict and folded tests differ. */
const WORDS = ["a", "A", "ab", "Ab", "AB", "b", "İ", "i̇", "ß", "ss", "SS", "Σ", "σ", "😀", "\uffff", ""];
const text = fc.oneof(
  { arbitrary: fc.constantFrom(...WORDS), weight: 3 },
  fc.array(fc.constantFrom(...PIECES), { maxLength: 3 }).map((p) => p.join("")),
);
const MIMES = ["image/jpeg", "image/png", "image/webp"];
const STATUSES = ["uploaded", "error", "processing"];
const KEYS = ["k", "K", "n", "x.y", "my key", "😀", "owner", "constructor", "__proto__"];
const TAGS = ["car", "Car", "person", "traffic light", "x.y"];
const ID_PREFIXES = ["a", "A", "é", "😀"];
const INTS = [-1, 0, 1, 2, 3, 5, 1000];
const NUMBERS = [...INTS, 2.5, -0.5, 1e10];
const TIMES = [0, 1000, 1_704_067_200_000, 1_704_067_200_001];

const customValue = fc.oneof({ arbitrary: text, weight: 3 }, fc.constantFrom(...NUMBERS), fc.boolean());
/** Mostly the key "k", so that comparisons on custom keys meet values. */
const key = fc.oneof({ arbitrary: fc.constant("k"), weight: 3 }, fc.constantFrom(...KEYS));

interface GeneratedAsset extends QueryableAsset {
  tags: string[];
}

const asset = fc
  .record({
    idPrefix: fc.constantFrom(...ID_PREFIXES),
    filename: text,
    fileSize: fc.constantFrom(...INTS.filter((n) => n >= 0)),
    mimeType: fc.constantFrom(...MIMES),
    width: fc.constantFrom(...INTS.filter((n) => n >= 0)),
    height: fc.constantFrom(...INTS.filter((n) => n >= 0)),
    frames: fc.constantFrom(0, 1, 2),
    status: fc.constantFrom(...STATUSES),
    uploadStatus: fc.constantFrom("processing", "completed"),
    createdAt: fc.constantFrom(...TIMES),
    updatedAt: fc.constantFrom(...TIMES),
    contentsUpdatedAt: fc.constantFrom(...TIMES),
    custom: fc.array(fc.tuple(key, customValue), { maxLength: 4 }),
    tags: fc.array(fc.constantFrom(...TAGS), { maxLength: 4 }),
  })
  .map(({ idPrefix, custom, tags, ...rest }) => {
    const annotationTags: Record<string, number> = {};
    for (const t of tags) annotationTags[t] = (annotationTags[t] ?? 0) + 1;
    return {
      ...rest,
      assetId: idPrefix,
      customMetadata: Object.fromEntries(custom),
      annotationTags,
      annotationTotal: tags.length,
      tags,
    } satisfies GeneratedAsset;
  });

/** Filenames are unique in a dataset; ids become unique by their index. */
const assets = fc
  .uniqueArray(asset, { selector: (a) => a.filename, maxLength: 10 })
  .map((list) => list.map((a, i) => ({ ...a, assetId: `${a.assetId}${i}` })));

// ---- random checked trees over the same pools ----

const STRING_FIELDS: BuiltinName[] = [
  "assetId",
  "filename",
  "metadata.mimeType",
  "metadata.status",
  "metadata.uploadStatus",
];
const NUMBER_FIELDS: BuiltinName[] = [
  "metadata.fileSize",
  "metadata.width",
  "metadata.height",
  "metadata.frames",
  "metadata.annotations.total",
];
const TIME_FIELDS: BuiltinName[] = ["metadata.timeCreated", "metadata.lastUpdated", "metadata.contentsLastUpdated"];

const builtin = (names: BuiltinName[]) => fc.constantFrom(...names).map((name): Field => ({ kind: "builtin", name }));
const tagField = fc.constantFrom(...TAGS).map((tag): Field => ({ kind: "tag", tag }));
const customField = key.map((key): Field => ({ kind: "custom", key }));

/** String literals likely to meet the values: the pools, upper-cased variants, and pieces. */
const stringLiteral = fc.oneof(
  { arbitrary: text, weight: 4 },
  fc.constantFrom(...MIMES, ...STATUSES, "completed").chain((s) => fc.constantFrom(s, s.toUpperCase(), s.slice(0, 3))),
  fc.tuple(fc.constantFrom(...ID_PREFIXES), fc.nat(10)).map(([p, i]) => `${p}${i}`),
);
const numberLiteral = fc.constantFrom(...NUMBERS, ...TIMES, 0.5);
const ordered: CompareOp[] = ["<", "<=", ">", ">="];
const anyOp = fc.constantFrom<CompareOp>("==", "!=", ...ordered);

/** A field with a literal generator of a type it accepts (for `==`; `ordered` drops booleans). */
const typedField = fc.oneof(
  fc.record({ field: builtin(STRING_FIELDS), literal: fc.constant<fc.Arbitrary<Literal>>(stringLiteral) }),
  fc.record({
    field: fc.oneof(builtin(NUMBER_FIELDS), builtin(TIME_FIELDS), tagField),
    literal: fc.constant<fc.Arbitrary<Literal>>(numberLiteral),
  }),
  fc.record({
    field: customField,
    literal: fc.constant<fc.Arbitrary<Literal>>(fc.oneof(stringLiteral, numberLiteral, fc.boolean())),
  }),
);

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.tuple(typedField, anyOp).chain(([{ field, literal }, op]) =>
    (op === "==" || op === "!=" ? literal : literal.filter((v) => typeof v !== "boolean")).map((value): Expr => ({
      type: "compare",
      field,
      op,
      value,
    })),
  ),
  typedField.chain(({ field, literal }) =>
    fc.array(literal, { maxLength: 4 }).map((values): Expr => ({ type: "in", field, values })),
  ),
  fc
    .tuple(fc.oneof(builtin(STRING_FIELDS), customField), stringLiteral, fc.constantFrom("startsWith", "contains"))
    .map(([field, value, type]): Expr => ({ type: type as "startsWith" | "contains", field, value })),
  fc
    .oneof(builtin([...STRING_FIELDS, ...NUMBER_FIELDS]), tagField, customField)
    .map((field): Expr => ({ type: "exists", field })),
);

const tree = (leaves: fc.Arbitrary<Expr>) =>
  fc.letrec<{ expr: Expr }>((tie) => ({
    expr: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaves,
      fc.record({
        type: fc.constantFrom("and" as const, "or" as const),
        args: fc.array(tie("expr"), { minLength: 2, maxLength: 3 }),
      }),
      tie("expr").map((arg): Expr => ({ type: "not", arg })),
    ),
  })).expr;

// ---- the database ----

const ORG = "org";
const DATASET = "ds";
const DECOY = "decoy";
let db: Kysely<Schema>;
/** SQLite in memory; in the scale-out configuration, a PostgreSQL database of its own. */
const dialect = scaleout() ? "postgres" : "sqlite";
let dropDatabase: (() => Promise<void>) | undefined;

beforeAll(async () => {
  if (dialect === "postgres") {
    const database = await createTestDatabase();
    dropDatabase = () => database.drop();
    db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: newPool(database.url, 2) }) });
  } else {
    db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: new Database(":memory:") }) });
  }
  const result = await new Migrator({ db, provider: migrationProvider(dialect) }).migrateToLatest();
  if (result.error) throw result.error;
  await db.insertInto("organizations").values({ org_id: ORG, name: "Org", created_at: 0 }).execute();
  for (const id of [DATASET, DECOY]) {
    await db
      .insertInto("datasets")
      .values({
        org_id: ORG,
        dataset_id: id,
        name: id,
        description: null,
        type: "t",
        content: "Image",
        created_at: 0,
        last_accessed: 0,
      })
      .execute();
  }
});

afterAll(async () => {
  await db.destroy();
  await dropDatabase?.();
});

async function load(list: GeneratedAsset[]): Promise<void> {
  await db.deleteFrom("annotations").execute();
  await db.deleteFrom("asset_fields").execute();
  await db.deleteFrom("assets").execute();
  // The decoy dataset holds the same assets (other ids): a subquery that forgets its asset shows.
  const copies = [
    ...list.map((a, i) => ({ a, seq: i + 1, id: a.assetId, dataset: DATASET })),
    ...list.map((a, i) => ({ a, seq: i + 1001, id: `decoy-${a.assetId}`, dataset: DECOY })),
  ];
  // One statement per table: the PostgreSQL run loads a few thousand times.
  const assetRows = copies.map(({ a, seq, id, dataset }) => ({
    seq,
    asset_id: id,
    org_id: ORG,
    dataset_id: dataset,
    filename: a.filename,
    filename_folded: fold(a.filename),
    sha256: "0".repeat(64),
    file_size: a.fileSize,
    mime_type: a.mimeType,
    width: a.width,
    height: a.height,
    raw_width: a.width,
    raw_height: a.height,
    orientation: 1,
    frames: a.frames,
    status: a.status,
    upload_status: a.uploadStatus,
    custom_metadata: JSON.stringify(a.customMetadata),
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    contents_updated_at: a.contentsUpdatedAt,
    generation: 1,
    annotation_count: a.annotationTotal,
  }));
  const fieldRowsAll = copies.flatMap(({ a, seq, dataset }) => fieldRows(seq, ORG, dataset, a.customMetadata));
  const annotationRows = copies.flatMap(({ a, id, dataset }) =>
    a.tags.map((tag, i) => ({
      annotation_id: `${id}/${i}`,
      org_id: ORG,
      dataset_id: dataset,
      asset_id: id,
      tag,
      contents: "{}",
      created_at: 0,
      updated_at: 0,
    })),
  );
  if (assetRows.length > 0) await db.insertInto("assets").values(assetRows).execute();
  if (fieldRowsAll.length > 0) await db.insertInto("asset_fields").values(fieldRowsAll).execute();
  if (annotationRows.length > 0) await db.insertInto("annotations").values(annotationRows).execute();
}

async function select(expr: Expr, strict: boolean, drivers?: Expr[]): Promise<string[]> {
  const drive = drivers ? { drive: { nodes: drivers, orgId: ORG, datasetId: DATASET } } : {};
  const rows = await db
    .selectFrom("assets")
    .select("asset_id")
    .where("org_id", "=", ORG)
    .where("dataset_id", "=", DATASET)
    .where(compileWhere(expr, { strict, dialect, ...drive }))
    .execute();
  return rows.map((r) => r.asset_id).sort();
}

/** Loads the assets, then compares SQL and evaluator on each tree, strict and folded. */
const agree = (exprs: fc.Arbitrary<Expr[]>) =>
  fc.asyncProperty(assets, exprs, async (list, trees) => {
    await load(list);
    for (const expr of trees) {
      for (const strict of [false, true]) {
        const expected = list
          .filter((a) => matches(expr, a, { strict }))
          .map((a) => a.assetId)
          .sort();
        expect(await select(expr, strict), `${printQuery(expr)} (strict: ${strict})`).toEqual(expected);
        // Driven from any candidate's index range instead of probed per row: the same assets.
        const candidates = driverCandidates(expr);
        for (const driver of candidates) {
          const label = `${printQuery(expr)} driven by ${printQuery(driver)} (strict: ${strict})`;
          expect(await select(expr, strict, [driver]), label).toEqual(expected);
        }
        // Or by the intersection of all their ranges.
        if (candidates.length > 1) {
          const label = `${printQuery(expr)} driven by the intersection of ${candidates.length} (strict: ${strict})`;
          expect(await select(expr, strict, candidates), label).toEqual(expected);
        }
      }
    }
  });

// On PostgreSQL (scale-out) each statement is a round trip: the properties take several times longer.
describe("compiled SQL agrees with the evaluator", { timeout: 180_000 }, () => {
  it("on single comparisons", async () => {
    await fc.assert(agree(fc.array(leaf, { minLength: 5, maxLength: 10 })), { numRuns: 150 });
  });

  it("on conjunctions driven from one custom key's index range", async () => {
    const conjunction = fc
      .array(leaf, { minLength: 1, maxLength: 3 })
      .map((args): Expr => (args.length === 1 ? args[0]! : { type: "and", args }));
    await fc.assert(agree(fc.array(conjunction, { minLength: 3, maxLength: 6 })), { numRuns: 150 });
  });

  it("on random trees", async () => {
    await fc.assert(agree(fc.array(tree(leaf), { minLength: 1, maxLength: 4 })), { numRuns: 200 });
  });
});

// ---- printing ----

/** Any storable string (no U+0000, no lone surrogate): keys, tags and values all print and parse back. */
const anyString = fc.oneof(
  fc
    .string({ unit: "binary", maxLength: 6 })
    .filter((s) => !s.includes("\0") && Buffer.from(s, "utf8").toString("utf8") === s),
  text,
  fc.constantFrom(...KEYS, "and", "NOT", "metadata.fileSize", "a..b", ""),
);
const anyNumber = fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n));
const anyLeaf: fc.Arbitrary<Expr> = fc.oneof(
  leaf,
  fc
    .tuple(
      fc.oneof(
        anyString.map((key): Field => ({ kind: "custom", key })),
        anyString.map((tag): Field => ({ kind: "tag", tag })),
      ),
      anyOp,
      anyString,
      anyNumber,
    )
    .map(([field, op, s, n]): Expr => ({ type: "compare", field, op, value: field.kind === "tag" ? n : s })),
  fc
    .tuple(anyString, anyString)
    .map(([key, value]): Expr => ({ type: "contains", field: { kind: "custom", key }, value })),
  fc
    .array(fc.oneof(anyString, anyNumber, fc.boolean()), { maxLength: 3 })
    .map((values): Expr => ({ type: "in", field: { kind: "custom", key: "k" }, values })),
);

describe("printQuery", () => {
  it("parses back to the same tree", () => {
    fc.assert(
      fc.property(tree(anyLeaf), (expr) => {
        expect(parseQuery(printQuery(expr))).toEqual(expr);
      }),
      { numRuns: 300 },
    );
  });
});
