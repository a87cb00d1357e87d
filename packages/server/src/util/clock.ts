/** Wall-clock epoch milliseconds: the only time unit on the wire and in the stores. */
export const now = (): number => Date.now();
