import { readFileSync } from 'node:fs';

/** The version of @credroam/core: what plugins' `engines.credroam` ranges are checked against. */
export const CORE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
