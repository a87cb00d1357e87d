import { LIMITS, type CompareOp, type Expr, type Field, type Literal } from "./ast.js";
import { checkExpr, resolveField, type LeafPositions } from "./fields.js";
import { KEYWORDS, Lexer, syntaxError, type Token } from "./lexer.js";

/**
 * metadataQuery text to a checked tree. Grammar (keywords in any letter case):
 *
 *   query   := or END
 *   or      := and (("or" | "||") and)*
 *   and     := unary (("and" | "&&") unary)*
 *   unary   := ("not" | "!") unary | primary
 *   primary := "(" or ")" | "exists" "(" field ")" | field test
 *   test    := ("==" | "=" | "!=" | "<" | "<=" | ">" | ">=") literal
 *            | "in" "[" (literal ("," literal)*)? "]" | "startsWith" literal | "contains" literal
 *   field   := (NAME | `QUOTED` | "[" STRING "]") ("." (NAME | `QUOTED`) | "[" STRING "]")*
 *   literal := STRING | NUMBER | "true" | "false"
 *
 * The whole text is parsed first; then the tree is type-checked as a separate step.
 */
export function parseQuery(text: string): Expr {
  const positions = new WeakMap<object, LeafPositions>();
  const tree = new Parser(text, positions).parse();
  return checkExpr(tree, "metadataQuery", positions);
}

const COMPARE: Partial<Record<string, CompareOp>> = {
  "==": "==",
  "!=": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
};
const VALUE = "a value (a string, a number, true or false)";

class Parser {
  private readonly lexer: Lexer;
  private nesting = 0;
  private nodes = 0;

  constructor(
    private readonly text: string,
    private readonly positions: WeakMap<object, LeafPositions>,
  ) {
    this.lexer = new Lexer(text);
  }

  parse(): Expr {
    const expr = this.or();
    const end = this.lexer.peek();
    if (end.kind !== "end") throw this.error("'and', 'or' or the end of the query", end);
    return expr;
  }

  private or(): Expr {
    const args = [this.and()];
    while (this.isWord("or") || this.isSymbol("||")) {
      this.lexer.next();
      args.push(this.and());
    }
    return args.length === 1 ? (args[0] as Expr) : this.node({ type: "or", args });
  }

  private and(): Expr {
    const args = [this.unary()];
    while (this.isWord("and") || this.isSymbol("&&")) {
      this.lexer.next();
      args.push(this.unary());
    }
    return args.length === 1 ? (args[0] as Expr) : this.node({ type: "and", args });
  }

  private unary(): Expr {
    if (this.isWord("not") || this.isSymbol("!")) {
      const token = this.enter();
      const arg = this.unary();
      this.nesting--;
      return this.node({ type: "not", arg }, token);
    }
    return this.primary();
  }

  private primary(): Expr {
    const token = this.lexer.peek();
    if (this.isSymbol("(")) {
      this.enter();
      const inner = this.or();
      const close = this.lexer.peek();
      if (!this.isSymbol(")")) throw this.error("'and', 'or' or ')'", close, ` (for the '(' at position ${token.pos})`);
      this.lexer.next();
      this.nesting--;
      return inner;
    }
    if (this.isWord("exists")) {
      this.lexer.next();
      this.expectSymbol("(", "after 'exists'");
      const field = this.field();
      this.expectSymbol(")", `after '${this.text.slice(field.pos, field.end)}'`);
      const node: Expr = { type: "exists", field: field.field };
      this.positions.set(node, { field: field.pos, op: token.pos, values: [] });
      return this.node(node, token);
    }
    const field = this.field();
    return this.test(field);
  }

  private test(at: { field: Field; pos: number; end: number }): Expr {
    const field = at.field;
    const token = this.lexer.peek();
    const after = ` after '${this.text.slice(at.pos, at.end)}'`;
    const op = token.kind === "symbol" ? COMPARE[token.value] : undefined;
    const word = token.kind === "name" ? token.value.toLowerCase() : "";
    const leaf = (node: Expr, values: number[]) => {
      this.positions.set(node, { field: at.pos, op: token.pos, values });
      return this.node(node, token);
    };
    if (op !== undefined) {
      this.lexer.next();
      const value = this.literal(`after '${op}'`);
      return leaf({ type: "compare", field, op, value: value.value }, [value.pos]);
    }
    if (word === "in") {
      this.lexer.next();
      this.expectSymbol("[", "after 'in'");
      const values: Literal[] = [];
      const where: number[] = [];
      if (!this.isSymbol("]")) {
        while (true) {
          const value = this.literal(values.length === 0 ? "" : "after ','", values.length === 0 ? "or ']'" : "");
          if (values.length === LIMITS.listItems)
            throw syntaxError(this.text, `at most ${LIMITS.listItems} values in a list`, value);
          values.push(value.value);
          where.push(value.pos);
          if (!this.isSymbol(",")) break;
          this.lexer.next();
        }
      }
      this.expectSymbol("]", "", "',' or ']'");
      return leaf({ type: "in", field, values }, where);
    }
    if (word === "startswith" || word === "contains") {
      this.lexer.next();
      const value = this.literal(`after '${token.kind === "name" ? token.value : ""}'`);
      const type = word === "startswith" ? "startsWith" : "contains";
      // A non-string value is left for the type check, which says what is wrong with it.
      return leaf({ type, field, value: value.value as string }, [value.pos]);
    }
    throw this.error("a comparison operator", token, after);
  }

  /** A field path and its source span. */
  private field(): { field: Field; pos: number; end: number } {
    const first = this.lexer.peek();
    const segments: string[] = [];
    let end = first.end;
    if ((first.kind === "name" && !isKeyword(first)) || first.kind === "quoted") {
      this.lexer.next();
      segments.push(first.value);
    } else if (this.isSymbol("[")) {
      const part = this.bracket();
      segments.push(part.value);
      end = part.end;
    } else throw this.error("a field, 'not', 'exists(' or '('", first);
    while (true) {
      if (this.isSymbol(".")) {
        this.lexer.next();
        const part = this.lexer.peek();
        if (part.kind !== "name" && part.kind !== "quoted")
          throw this.error("a name", part, ` after '${this.text.slice(first.pos, end)}.'`);
        this.lexer.next();
        segments.push(part.value);
        end = part.end;
      } else if (this.isSymbol("[")) {
        const part = this.bracket();
        segments.push(part.value);
        end = part.end;
      } else break;
    }
    return { field: resolveField(segments, "metadataQuery", first.pos), pos: first.pos, end };
  }

  /** `["name"]`: a segment of any characters. */
  private bracket(): { value: string; end: number } {
    this.lexer.next();
    const name = this.lexer.peek();
    if (name.kind !== "string") throw this.error("a quoted name", name, " after '['");
    this.lexer.next();
    return { value: name.value, end: this.expectSymbol("]", "").end };
  }

  private literal(after: string, or = ""): { value: Literal; pos: number; end: number } {
    const token = this.lexer.peek();
    const word = token.kind === "name" ? token.value.toLowerCase() : "";
    if (token.kind === "string" || token.kind === "number" || word === "true" || word === "false") {
      this.lexer.next();
      const value = token.kind === "string" || token.kind === "number" ? token.value : word === "true";
      return { value, pos: token.pos, end: token.end };
    }
    throw this.error(`${VALUE}${or ? ` ${or}` : ""}`, token, after ? ` ${after}` : "");
  }

  private expectSymbol(symbol: string, after: string, expected = `'${symbol}'`): Token {
    const token = this.lexer.peek();
    if (!this.isSymbol(symbol)) throw this.error(expected, token, after ? ` ${after}` : "");
    return this.lexer.next();
  }

  /** Consumes a `(` or `not`, counting nesting. */
  private enter(): Token {
    const token = this.lexer.next();
    if (++this.nesting > LIMITS.depth) throw syntaxError(this.text, `at most ${LIMITS.depth} levels of nesting`, token);
    return token;
  }

  private node(expr: Expr, at: Token = this.lexer.peek()): Expr {
    if (++this.nodes > LIMITS.nodes) throw syntaxError(this.text, `at most ${LIMITS.nodes} conditions`, at);
    return expr;
  }

  private isWord(word: string): boolean {
    const token = this.lexer.peek();
    return token.kind === "name" && token.value.toLowerCase() === word;
  }

  private isSymbol(symbol: string): boolean {
    const token = this.lexer.peek();
    return token.kind === "symbol" && token.value === symbol;
  }

  private error(expected: string, found: Token, after = "") {
    return syntaxError(this.text, expected, found, after);
  }
}

/** Keywords are reserved where a field starts (`not`, `exists`, ...): such a field needs backticks. */
const isKeyword = (token: Token) => token.kind === "name" && KEYWORDS.has(token.value.toLowerCase());
