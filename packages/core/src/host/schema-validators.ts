import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject } from 'ajv';
import type { JsonSchema } from '../api/manifest.js';

/**
 * A compiled JSON Schema: true when `data` is valid (defaults are applied to it in place); the
 * problems of the last call in `errors`. Read `errors` right after the call: the function is shared.
 */
export interface SchemaValidateFunction {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * The options every schema is compiled with, at build time and at run time alike
 * (scripts/compile-validators.mjs passes the same): all problems reported, defaults applied,
 * unknown keywords ignored.
 */
export const SCHEMA_OPTIONS = { allErrors: true, useDefaults: true, strict: false } as const;

/** A schema's identity: the SHA-256 (hex) of its JSON text. Equal text, equal validator. */
export function schemaKey(schema: JsonSchema): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}

const precompiled = new Map<string, SchemaValidateFunction>();
const compiledHere = new Map<string, SchemaValidateFunction>();
let ajv: { compile(schema: object): SchemaValidateFunction } | undefined;

/**
 * Adds validators compiled ahead of time (ajv standalone code, generated at build time from the
 * same schemas with `SCHEMA_OPTIONS`), by `schemaKey`. A schema whose key is here is never compiled
 * at run time; any other is, on first use. A stale table is harmless: a changed schema has another
 * key, so it is compiled as if the table did not exist.
 */
export function registerCompiledValidators(table: Readonly<Record<string, SchemaValidateFunction>>): void {
  for (const [key, validate] of Object.entries(table)) precompiled.set(key, validate);
}

/**
 * The validator of `schema`: the one compiled ahead of time for it, else one compiled now with ajv
 * (loaded on first need) and kept for the life of the process. Throws ajv's error when `schema` is
 * not a usable JSON Schema.
 */
export function compileSchema(schema: JsonSchema): SchemaValidateFunction {
  const key = schemaKey(schema);
  const known = precompiled.get(key) ?? compiledHere.get(key);
  if (known) return known;
  ajv ??= newAjv();
  const validate = ajv.compile(schema);
  compiledHere.set(key, validate);
  return validate;
}

/** How many schemas this process compiled with ajv (not ahead of time): tests check that it stays 0. */
export function schemasCompiledAtRunTime(): number {
  return compiledHere.size;
}

/** ajv is loaded only when a schema that was not compiled ahead of time needs compiling. */
function newAjv(): { compile(schema: object): SchemaValidateFunction } {
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv');
  return new Ajv({ ...SCHEMA_OPTIONS });
}

/** Formats ajv errors as `where: what`, with `where` a JSON pointer into the given root (`/` for its top). */
export function describeSchemaErrors(
  errors: readonly ErrorObject[] | null | undefined,
  root: string,
): string[] {
  return (errors ?? []).map((e) => {
    // The document's own top (an unknown member there) is `/`, never an empty place.
    const where = `${root}${e.instancePath}` || '/';
    const extra =
      e.keyword === 'additionalProperties'
        ? ` '${String((e.params as { additionalProperty: string }).additionalProperty)}'`
        : e.keyword === 'enum'
          ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`
          : '';
    return `${where}: ${e.message ?? e.keyword}${extra}`;
  });
}

/** The schema of a plugin's settings when its manifest declares none: any object. */
export const NO_CONFIGURATION_SCHEMA = { type: 'object' } as const;

/**
 * Compiles a JSON Schema (a plugin's configuration, the agent manifest) and returns a validator
 * that applies defaults to a copy and reports problems as `where: what` lines under `root`.
 */
export function configurationValidator(
  schema: JsonSchema | undefined,
  root = '/settings',
): (settings: unknown) => { ok: true; value: Record<string, unknown> } | { ok: false; problems: string[] } {
  let validate: SchemaValidateFunction | undefined;
  return (settings) => {
    validate ??= compileSchema(schema ?? NO_CONFIGURATION_SCHEMA);
    const copy = structuredClone(settings ?? {});
    if (validate(copy)) return { ok: true, value: copy as Record<string, unknown> };
    return { ok: false, problems: describeSchemaErrors(validate.errors, root) };
  };
}
