import { QueryError } from "./errors.js";

/**
 * Tokens of the metadataQuery text. Every token keeps its source span, so errors can say where
 * they are and quote what was found. Tokenizing is lazy: the first error in reading order is the
 * one reported, whether the lexer or the parser meets it.
 */
export type Token =
  /** A bare name: `[A-Za-z_][A-Za-z0-9_-]*` (field segments and keywords alike). */
  | { kind: "name"; value: string; pos: number; end: number }
  /** A backtick-quoted name segment; a doubled backtick stands for one. */
  | { kind: "quoted"; value: string; pos: number; end: number }
  | { kind: "string"; value: string; pos: number; end: number }
  | { kind: "number"; value: number; pos: number; end: number }
  | { kind: "symbol"; value: Punct; pos: number; end: number }
  | { kind: "end"; pos: number; end: number };

export type Punct = "(" | ")" | "[" | "]" | "," | "." | "==" | "!=" | "<" | "<=" | ">" | ">=" | "&&" | "||" | "!";

const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const NUMBER_TAIL = /[A-Za-z0-9_.]/;
const SPACE = /\s/;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};
const ESCAPE_LIST = "\\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX";

/** How an error shows what it found: the source text of a token (shortened), or the end. */
export function describe(text: string, token: { pos: number; end: number; kind?: string }): string {
  if (token.kind === "end" || token.pos >= text.length) return "the end of the query";
  const shown = text.slice(token.pos, Math.max(token.end, token.pos + 1));
  return `'${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown}'`;
}

/** A syntax error of the text: `expected ... at position P, found ...`. */
export function syntaxError(
  text: string,
  expected: string,
  at: { pos: number; end: number; kind?: string },
  after = "",
) {
  const found = describe(text, at);
  return new QueryError("metadataQuery", `expected ${expected}${after} at position ${at.pos}, found ${found}`, {
    position: at.pos,
    expected,
  });
}

export class Lexer {
  private readonly tokens: Token[] = [];
  private offset = 0;
  private index = 0;

  constructor(readonly text: string) {}

  /** The token `ahead` places after the current one, without consuming anything. */
  peek(ahead = 0): Token {
    while (this.tokens.length <= this.index + ahead) {
      const last = this.tokens[this.tokens.length - 1];
      if (last?.kind === "end") return last;
      this.tokens.push(this.read());
    }
    return this.tokens[this.index + ahead] as Token;
  }

  next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.index++;
    return token;
  }

  private read(): Token {
    const text = this.text;
    while (this.offset < text.length && SPACE.test(text[this.offset] as string)) this.offset++;
    const pos = this.offset;
    if (pos >= text.length) return { kind: "end", pos, end: pos };
    const c = text[pos] as string;
    const two = text.slice(pos, pos + 2);
    const symbol = (value: Punct, length: number): Token => {
      this.offset = pos + length;
      return { kind: "symbol", value, pos, end: pos + length };
    };
    if ("()[],.".includes(c)) return symbol(c as Punct, 1);
    if (two === "==" || two === "!=" || two === "<=" || two === ">=" || two === "&&" || two === "||")
      return symbol(two, 2);
    if (c === "=") return symbol("==", 1);
    if (c === "<" || c === ">" || c === "!") return symbol(c, 1);
    if (c === '"' || c === "'") return this.string(c);
    if (c === "`") return this.backtick();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    NAME.lastIndex = pos;
    const name = NAME.exec(text);
    if (name) {
      this.offset = pos + name[0].length;
      return { kind: "name", value: name[0], pos, end: this.offset };
    }
    const shown = { pos, end: pos + (String.fromCodePoint(text.codePointAt(pos) as number).length || 1) };
    if (c === "&" || c === "|") throw syntaxError(text, `'${c}${c}'`, shown);
    throw syntaxError(text, "a field, a value, an operator or a parenthesis", shown);
  }

  private string(quote: string): Token {
    const text = this.text;
    const pos = this.offset;
    let value = "";
    let i = pos + 1;
    while (true) {
      if (i >= text.length) {
        throw syntaxError(text, `a closing ${quote}`, { pos: i, end: i }, ` (for the string at position ${pos})`);
      }
      const c = text[i] as string;
      if (c === quote) break;
      if (c !== "\\") {
        value += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e !== undefined && ESCAPES[e] !== undefined) {
        value += ESCAPES[e];
        i += 2;
      } else if (e === "u" && /^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
        value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        throw syntaxError(text, `an escape (${ESCAPE_LIST})`, { pos: i, end: Math.min(i + 2, text.length) });
      }
    }
    this.offset = i + 1;
    return { kind: "string", value, pos, end: this.offset };
  }

  private backtick(): Token {
    const text = this.text;
    const pos = this.offset;
    let value = "";
    let i = pos + 1;
    while (true) {
      if (i >= text.length)
        throw syntaxError(text, "a closing `", { pos: i, end: i }, ` (for the name at position ${pos})`);
      const c = text[i] as string;
      if (c === "`") {
        if (text[i + 1] !== "`") break;
        value += "`";
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    this.offset = i + 1;
    return { kind: "quoted", value, pos, end: this.offset };
  }

  private number(): Token {
    const text = this.text;
    const pos = this.offset;
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    let end = pos + (m?.[0].length ?? 1);
    if (!m || (end < text.length && NUMBER_TAIL.test(text[end] as string))) {
      while (end < text.length && NUMBER_TAIL.test(text[end] as string)) end++;
      throw syntaxError(text, "a number in JSON syntax (e.g. 12, -0.5, 1e6)", { pos, end });
    }
    const value = Number(m[0]);
    if (!Number.isFinite(value)) throw syntaxError(text, "a number within the range of a double", { pos, end });
    this.offset = end;
    return { kind: "number", value: value === 0 ? 0 : value, pos, end };
  }
}

/** Words with a meaning of their own (any letter case); a field segment spelled like one needs backticks. */
export const KEYWORDS = new Set(["and", "or", "not", "in", "startswith", "contains", "exists", "true", "false"]);

/** A bare field segment: what prints without quotes. */
export const isPlainName = (s: string) => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s);
