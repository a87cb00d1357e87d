import { Help, type AddHelpTextContext } from "commander";

/** Below this many columns for a description, an option's description goes under it instead of beside it. */
const MIN_DESCRIPTION_COLUMNS = 30;

/** Where a description goes when it cannot stand beside its term. */
const STACKED_INDENT = "      ";

/** Words of `text` in lines of at most `width` characters (a longer word keeps its own line). */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * Fits help text to `width` columns: runs of unindented lines are one paragraph, re-wrapped;
 * an indented `term  description` row wraps its description under itself (a hanging indent);
 * other indented lines (examples) are kept as written.
 */
export function reflow(text: string, width: number): string {
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) out.push(...wrapWords(paragraph.join(" "), width));
    paragraph = [];
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      flush();
      out.push("");
    } else if (!/^\s/.test(line)) {
      paragraph.push(line.trim());
    } else {
      flush();
      const row = /^(\s+(?:\S+ )*?\S*\s{2,})(\S.*)$/.exec(line);
      const column = row?.[1]?.length ?? 0;
      if (line.length <= width || row === null) out.push(line);
      else if (width - column >= MIN_DESCRIPTION_COLUMNS) {
        const [first, ...rest] = wrapWords(row[2] ?? "", width - column);
        out.push(`${row[1]}${first ?? ""}`, ...rest.map((l) => `${" ".repeat(column)}${l}`));
      } else {
        // No room beside the term: the description under it, as formatItem does for options.
        const term = row[1]?.trimEnd() ?? "";
        if (term.trim() !== "") out.push(term);
        out.push(
          ...wrapWords(row[2] ?? "", Math.max(20, width - STACKED_INDENT.length)).map((l) => STACKED_INDENT + l),
        );
      }
    }
  }
  flush();
  return out.join("\n");
}

/** The width help is written to: the terminal's, else 80 (as commander decides it). */
function helpWidth(context: AddHelpTextContext): number {
  const config = context.command.configureOutput();
  const width = context.error ? config.getErrHelpWidth?.() : config.getOutHelpWidth?.();
  return width ?? 80;
}

/** Text for `addHelpText`, fitted to the width of the terminal it is shown on. */
export function helpText(text: string): (context: AddHelpTextContext) => string {
  return (context) => reflow(text, helpWidth(context));
}

/**
 * Help's layout on a narrow terminal: commander keeps a description beside its option however
 * little room is left (and then does not wrap it at all); here it goes under the option instead,
 * wrapped, so that no line is wider than the terminal. Local and global options alike.
 */
export const helpConfiguration: Partial<Help> = {
  showGlobalOptions: true,
  minWidthToWrap: 20,
  formatItem(term: string, termWidth: number, description: string, helper: Help): string {
    const width = helper.helpWidth ?? 80;
    if (description === "" || width - termWidth - 4 >= MIN_DESCRIPTION_COLUMNS)
      return Help.prototype.formatItem.call(helper, term, termWidth, description, helper);
    const lines = wrapWords(description, Math.max(20, width - STACKED_INDENT.length));
    return [`  ${term}`, ...lines.map((l) => STACKED_INDENT + l)].join("\n");
  },
};
