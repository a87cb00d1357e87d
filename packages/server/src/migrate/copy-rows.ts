import { createHash } from "node:crypto";
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database } from "../store/metadata/schema.js";
import { SEQUENCES, TABLES, type CopiedTable } from "./tables.js";

type Row = Record<string, unknown>;

export interface RowCopyOptions {
  /** Rows read and inserted per transaction. PostgreSQL takes at most 65,535 parameters a statement. */
  chunkRows: number;
  signal?: AbortSignal;
  /** Called after each chunk is committed, with the rows it inserted (not those already there). */
  onChunk?: (table: string, rows: number) => void;
  /** Called before each chunk: throws to stop the copy (an interruption). */
  beforeChunk?: () => void;
}

export interface TableCopy {
  table: string;
  /** Rows read from the source this run (from where a previous run stopped). */
  read: number;
  /** Rows this run inserted (fewer than read when they were there already). */
  inserted: number;
}

const keyOf = (row: Row, key: readonly string[]): unknown[] => key.map((k) => row[k]);

/**
 * PostgreSQL text cannot hold U+0000, which SQLite stores and the API lets through in a few
 * places (a rejected file's name, custom metadata strings in `asset_fields`, annotation tags).
 * Such a character becomes U+FFFD, as the PostgreSQL store binds it for new requests; JSON
 * columns hold it escaped (`\u0000`) and keep it. The digests compare rows through the same
 * mapping, so the check reads "equal, up to what PostgreSQL cannot store".
 */
const NUL = "\u0000";
const storable = (v: unknown): unknown => (typeof v === "string" && v.includes(NUL) ? v.replaceAll(NUL, "\ufffd") : v);
function storableRow(row: Row): Row {
  for (const v of Object.values(row)) if (typeof v === "string" && v.includes(NUL)) return mapValues(row, storable);
  return row;
}
const mapValues = (row: Row, f: (v: unknown) => unknown): Row =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, f(v)]));
const keyList = (key: readonly string[]): RawBuilder<unknown> => sql.join(key.map((k) => sql.ref(k)));

/** One chunk of a table in its key order, after `after` (a key, or undefined to start). */
async function chunkAfter(
  db: Kysely<Database>,
  table: CopiedTable,
  after: unknown[] | undefined,
  limit: number,
): Promise<Row[]> {
  // Row values compare column by column in both databases; text keys compare by bytes in both
  // (SQLite's BINARY collation, PostgreSQL's "C"), so the two walk a table in the same order.
  const where = after ? sql`where (${keyList(table.key)}) > (${sql.join(after)})` : sql``;
  const { rows } = await sql<Row>`select * from ${sql.table(table.name)} ${where} order by ${keyList(
    table.key,
  )} limit ${limit}`.execute(db);
  return rows;
}

/** The last key the target holds: chunks commit in key order, so it holds every row up to it. */
async function lastKey(db: Kysely<Database>, table: CopiedTable): Promise<unknown[] | undefined> {
  const order = sql.join(table.key.map((k) => sql`${sql.ref(k)} desc`));
  const { rows } =
    await sql<Row>`select ${keyList(table.key)} from ${sql.table(table.name)} order by ${order} limit 1`.execute(db);
  const key = rows[0] ? keyOf(rows[0], table.key) : undefined;
  // A key that held U+0000 in the source sorts elsewhere there: start the table over (the rows
  // already copied are skipped by the conflict clause) rather than skip any.
  return key?.some((v) => typeof v === "string" && v.includes("\ufffd")) ? undefined : key;
}

/**
 * Copies every table from source to target, in dependency order, chunk by chunk in key order,
 * each chunk one transaction of `insert ... on conflict do nothing`. Resumable: a run starts each
 * table after the last key the target already holds (an interrupted run left a prefix), and a row
 * found there anyway is skipped, not duplicated. Ids, hashes and secrets are copied as stored.
 */
export async function copyRows(
  source: Kysely<Database>,
  target: Kysely<Database>,
  options: RowCopyOptions,
): Promise<TableCopy[]> {
  const copies: TableCopy[] = [];
  for (const table of TABLES) {
    const copy: TableCopy = { table: table.name, read: 0, inserted: 0 };
    let after = await lastKey(target, table);
    const columns = await columnTypes(target, table.name);
    for (;;) {
      options.signal?.throwIfAborted();
      options.beforeChunk?.();
      const rows = await chunkAfter(source, table, after, options.chunkRows);
      if (rows.length === 0) break;
      const inserted = await insertChunk(target, table.name, columns, rows.map(storableRow));
      copy.read += rows.length;
      copy.inserted += inserted;
      options.onChunk?.(table.name, inserted);
      after = keyOf(rows[rows.length - 1]!, table.key);
      if (rows.length < options.chunkRows) break;
    }
    copies.push(copy);
  }
  return copies;
}

/** A target column and the PostgreSQL type of its array, for `unnest`. */
interface Column {
  name: string;
  arrayType: string;
}

const ARRAY_TYPES: Record<string, string> = {
  text: "text[]",
  bigint: "int8[]",
  integer: "int4[]",
  "double precision": "float8[]",
};

async function columnTypes(target: Kysely<Database>, table: string): Promise<Column[]> {
  const { rows } = await sql<{ column_name: string; data_type: string }>`select column_name, data_type
    from information_schema.columns where table_schema = current_schema() and table_name = ${table}
    order by ordinal_position`.execute(target);
  return rows.map((r) => {
    const arrayType = ARRAY_TYPES[r.data_type];
    if (!arrayType) throw new Error(`${table}.${r.column_name}: no copy for PostgreSQL type ${r.data_type}`);
    return { name: r.column_name, arrayType };
  });
}

/**
 * Inserts a chunk as one array per column (`insert ... select from unnest(...)`): a statement of
 * as many parameters as columns, where a multi-row VALUES list takes one per value (58,000 for
 * 2,000 assets), which both Kysely and PostgreSQL then spend most of the copy's time parsing.
 * Answers the rows inserted (those already there are skipped).
 */
async function insertChunk(target: Kysely<Database>, table: string, columns: Column[], rows: Row[]): Promise<number> {
  const arrays = columns.map((c) => sql`${rows.map((r) => r[c.name] ?? null)}::${sql.raw(c.arrayType)}`);
  const result = await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c.name)))})
    select * from unnest(${sql.join(arrays)}) on conflict do nothing`.execute(target);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * Moves PostgreSQL's sequences past the copied values: rows were inserted with their own ids,
 * which does not advance a sequence, so the next asset would otherwise collide with seq 1.
 */
export async function resetSequences(target: Kysely<Database>): Promise<void> {
  for (const { table, column } of SEQUENCES) {
    await sql`select setval(pg_get_serial_sequence(${table}, ${column}),
      coalesce((select max(${sql.ref(column)}) from ${sql.table(table)}), 1),
      (select count(*) from ${sql.table(table)}) > 0)`.execute(target);
  }
}

/** The rows of a table on one side: their count and a digest of their contents (see tableDigest). */
export interface TableDigest {
  table: string;
  rows: number;
  sha256: string;
}

/**
 * A digest of a table's contents that both databases compute alike: each row's columns by name,
 * values as JSON (numbers as numbers, whether the driver answered an integer or a 64-bit value),
 * hashed, and the row hashes added up modulo 2^256, so the digest does not depend on the order
 * the rows come in. Equal digests and counts on both sides mean every row arrived with every value.
 */
export async function tableDigest(db: Kysely<Database>, table: CopiedTable, chunkRows: number): Promise<TableDigest> {
  const MOD = 1n << 256n;
  let sum = 0n;
  let rows = 0;
  let after: unknown[] | undefined;
  for (;;) {
    const chunk = await chunkAfter(db, table, after, chunkRows);
    for (const row of chunk) {
      const values = Object.keys(row)
        .sort()
        .map((k) => [k, typeof row[k] === "bigint" ? Number(row[k]) : storable(row[k])]);
      sum = (sum + BigInt(`0x${createHash("sha256").update(JSON.stringify(values)).digest("hex")}`)) % MOD;
    }
    rows += chunk.length;
    if (chunk.length < chunkRows) break;
    after = keyOf(chunk[chunk.length - 1]!, table.key);
  }
  return { table: table.name, rows, sha256: sum.toString(16).padStart(64, "0") };
}

/** Row counts only (cheaper than digests, for large copies checked otherwise). */
export async function tableCount(db: Kysely<Database>, table: CopiedTable): Promise<number> {
  const { rows } = await sql<{ n: unknown }>`select count(*) as n from ${sql.table(table.name)}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}
