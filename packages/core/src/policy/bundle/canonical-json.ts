/**
 * Canonical JSON in the manner of RFC 8785 (JCS): object members sorted by their names' UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript's `JSON.stringify` writes them (which
 * is what JCS specifies). `policy sign` signs these bytes, so the same document always makes the
 * same content and digest. Only JSON values: `undefined`, functions, non-finite numbers are refused.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no ${typeof value}`);
}

/** How deep JSON may nest in a policy document (arrays and objects): far more than the schema needs. */
export const MAX_JSON_DEPTH = 32;

/**
 * Parses JSON text after checking, without recursion, that it nests at most `maxDepth` deep and
 * that no object names a member twice (JSON.parse keeps the last, other readers the first: a
 * signed document must mean one thing to whoever reads it; names are compared decoded, so
 * `"serial"` and `"seria\u006c"` are one name); a tagged result, never a throw (the codec.ts way).
 */
export function parseBoundedJson(
  text: string,
  maxDepth = MAX_JSON_DEPTH,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  // One entry per open object (its member names so far) or array (null).
  const open: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      if (expectName && names) {
        let name: string;
        try {
          name = JSON.parse(text.slice(i, end + 1)) as string;
        } catch (error) {
          return { ok: false, reason: `not JSON: ${(error as Error).message}` };
        }
        if (names.has(name))
          return {
            ok: false,
            reason: `JSON with a member named ${JSON.stringify(name)} twice in one object`,
          };
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      if (open.length + 1 > maxDepth) return { ok: false, reason: `JSON nested deeper than ${maxDepth}` };
      open.push(c === '{' ? new Set() : null);
      expectName = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
      expectName = false;
    } else if (c === ',') {
      expectName = open.at(-1) instanceof Set;
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
}
