/**
 * What the SDK draws on stderr during `fn`, as a terminal would keep it: each line that ended with
 * a newline, in the state it was last redrawn to, and every state drawn (`frames`). The SDK draws
 * progress on process.stderr; it is replaced for the call, with `isTTY` and a width.
 */
export async function onTerminal(fn: () => Promise<unknown>): Promise<{ lines: string[]; frames: string[] }> {
  const stderr = process.stderr;
  const saved = { write: stderr.write, isTTY: stderr.isTTY, columns: stderr.columns };
  let text = "";
  stderr.write = ((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  }) as typeof stderr.write;
  Object.assign(stderr, { isTTY: true, columns: 160 });
  try {
    await fn();
  } finally {
    Object.assign(stderr, saved);
  }
  const clean = (s: string) => s.replace(/\x1b\[K/g, "");
  const ended = text.split("\n").slice(0, -1);
  return {
    lines: ended.map((line) => clean(line.split("\r").at(-1) ?? "")),
    frames: text
      .split(/[\r\n]/)
      .map(clean)
      .filter((f) => f !== ""),
  };
}
