/** The change stamp as the engine compares it: its values in hex, sorted (a set). */
export const stampSet = (values: readonly Uint8Array[]): string[] =>
  values.map((v) => Buffer.from(v).toString('hex')).sort();

/** Whether two stamps (`stampSet`s) are the same set. */
export const sameStamp = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
