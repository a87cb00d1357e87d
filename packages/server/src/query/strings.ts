import { fold } from "../store/metadata/migrations.js";

/**
 * String rules shared by the evaluator and the compiler, so both sides order and fold alike.
 * `fold` is the one the stored folded columns (`filename_folded`, `asset_fields.str_folded`)
 * were made with.
 */
export { fold };

/**
 * Orders two strings by Unicode code point, as SQLite's BINARY collation does over UTF-8 and
 * PostgreSQL's `COLLATE "C"` does. Plain `<` on JavaScript strings compares UTF-16 code units,
 * which puts U+E000..U+FFFF after the characters outside the BMP: wrong here.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // At the first differing unit, a surrogate stands for a code point above U+FFFF.
    return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Code units ranked so that surrogates (code points >= U+10000) come after U+E000..U+FFFF. */
function codePointRank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit;
}

/**
 * The least string greater than every string that starts with `prefix`: the prefix with its
 * last code point incremented (skipping the surrogate range, and dropping trailing U+10FFFF,
 * which cannot be incremented). `undefined` when there is none (empty, or all U+10FFFF):
 * then `s >= prefix` alone is the range.
 */
export function succ(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0) {
    // The last code point of prefix[0, end): one unit, or a surrogate pair.
    const low = prefix.charCodeAt(end - 1);
    const start = end >= 2 && low >= 0xdc00 && low <= 0xdfff && isHigh(prefix.charCodeAt(end - 2)) ? end - 2 : end - 1;
    const last = prefix.codePointAt(start) as number;
    if (last !== 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return prefix.slice(0, start) + String.fromCodePoint(next);
    }
    end = start;
  }
  return undefined;
}

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
