/**
 * A small tolerant reader for the `filter` text when it is not JSON. The official Python client
 * sends a dict filter as Python's `str(dict)`, e.g. `{'status': 'error', 'ok': True}`. This reads
 * that form and JSON alike: objects (string keys), lists and tuples, strings in single or double
 * quotes with Python escapes, numbers, True/False/None (and true/false/null). Nothing else: no
 * expressions, no other Python values.
 */
export class LiteralSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/y;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const WORDS: Record<string, unknown> = { True: true, False: false, None: null, true: true, false: false, null: null };
const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  "/": "/",
  n: "\n",
  r: "\r",
  t: "\t",
  b: "\b",
  f: "\f",
  v: "\v",
  a: "\x07",
  "0": "\0",
};

export function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const fail = (message: string, at = i): never => {
    throw new LiteralSyntaxError(`${message} at position ${at}`, at);
  };
  const space = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const found = () => (i < text.length ? `'${text[i]}'` : "the end");

  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH} levels`);
    space();
    const c = text[i];
    if (c === "{") return object(depth);
    if (c === "[" || c === "(") return list(depth, c === "[" ? "]" : ")");
    if (c === "'" || c === '"') return string(c);
    NUMBER.lastIndex = i;
    const n = NUMBER.exec(text);
    if (n) {
      i += n[0].length;
      const v = Number(n[0]);
      if (!Number.isFinite(v)) fail("a number out of range", i - n[0].length);
      return v === 0 ? 0 : v;
    }
    WORD.lastIndex = i;
    const w = WORD.exec(text);
    if (w && Object.hasOwn(WORDS, w[0])) {
      i += w[0].length;
      return WORDS[w[0]];
    }
    return fail(`expected a value, found ${found()}`);
  };

  const object = (depth: number): Record<string, unknown> => {
    i++;
    const out: Record<string, unknown> = {};
    space();
    while (text[i] !== "}") {
      space();
      const at = i;
      const key = value(depth + 1);
      if (typeof key !== "string") fail("expected a string key", at);
      space();
      if (text[i] !== ":") fail(`expected ':' after a key, found ${found()}`);
      i++;
      // defineProperty: a key "__proto__" is data, not the prototype.
      Object.defineProperty(out, key as string, {
        value: value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      space();
      if (text[i] === ",") {
        i++;
        space();
      } else if (text[i] !== "}") fail(`expected ',' or '}', found ${found()}`);
    }
    i++;
    return out;
  };

  const list = (depth: number, close: string): unknown[] => {
    i++;
    const out: unknown[] = [];
    space();
    while (text[i] !== close) {
      out.push(value(depth + 1));
      space();
      if (text[i] === ",") {
        i++;
        space();
      } else if (text[i] !== close) fail(`expected ',' or '${close}', found ${found()}`);
    }
    i++;
    return out;
  };

  const string = (quote: string): string => {
    const start = i;
    i++;
    let out = "";
    while (true) {
      if (i >= text.length) fail(`expected the closing ${quote} of the string at position ${start}`);
      const c = text[i] as string;
      if (c === quote) break;
      if (c !== "\\") {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1] ?? "";
      const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
      if (hex > 0) {
        const digits = text.slice(i + 2, i + 2 + hex);
        if (!new RegExp(`^[0-9A-Fa-f]{${hex}}$`).test(digits)) fail(`expected ${hex} hex digits after '\\${e}'`);
        const code = parseInt(digits, 16);
        if (code > 0x10ffff) fail("a code point out of range");
        out += String.fromCodePoint(code);
        i += 2 + hex;
      } else if (Object.hasOwn(SIMPLE_ESCAPES, e)) {
        out += SIMPLE_ESCAPES[e];
        i += 2;
      } else fail(`unknown escape '\\${e}'`);
    }
    i++;
    return out;
  };

  const result = value(0);
  space();
  if (i < text.length) fail(`expected the end, found ${found()}`);
  return result;
}
