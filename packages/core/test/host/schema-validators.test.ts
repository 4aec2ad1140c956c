import test from 'ava';
import {
  compileSchema,
  configurationValidator,
  registerCompiledValidators,
  type SchemaValidateFunction,
  schemaKey,
  schemasCompiledAtRunTime,
} from '../../src/host/index.js';

test('a schema registered as compiled ahead of time is not compiled again: its validator is the one registered', (t) => {
  const schema = { type: 'object', properties: { n: { type: 'integer', default: 3 } } };
  const calls: unknown[] = [];
  const ahead: SchemaValidateFunction = (data) => {
    calls.push(data);
    return true;
  };
  const before = schemasCompiledAtRunTime();
  registerCompiledValidators({ [schemaKey(schema)]: ahead });
  t.is(compileSchema(structuredClone(schema)), ahead, 'found by its text, not by the object');
  t.deepEqual(configurationValidator(schema)({ n: 1 }), { ok: true, value: { n: 1 } });
  t.deepEqual(calls, [{ n: 1 }]);
  t.is(schemasCompiledAtRunTime(), before);
});

test('a schema that was not compiled ahead of time is compiled with ajv once, then shared; a changed one is compiled anew', (t) => {
  const schema = { type: 'object', properties: { port: { type: 'integer', minimum: 1, default: 636 } } };
  const before = schemasCompiledAtRunTime();
  const first = compileSchema(schema);
  t.is(compileSchema(structuredClone(schema)), first);
  t.is(schemasCompiledAtRunTime(), before + 1);
  const changed = compileSchema({ ...schema, required: ['port'] });
  t.not(changed, first);
  t.is(schemasCompiledAtRunTime(), before + 2);
  t.deepEqual(configurationValidator(schema, '/directory/settings')({}), { ok: true, value: { port: 636 } });
  t.deepEqual(configurationValidator(schema, '/directory/settings')({ port: 0 }), {
    ok: false,
    problems: ['/directory/settings/port: must be >= 1'],
  });
});

test('a schema that is not a usable JSON Schema throws as ajv does, each time', (t) => {
  t.throws(() => compileSchema({ type: 'colour' }), { message: /schema is invalid/ });
  t.throws(() => compileSchema({ type: 'colour' }), { message: /schema is invalid/ });
});

test('schemaKey is the SHA-256 of the JSON text: equal text, equal key; any change, another', (t) => {
  t.is(schemaKey({ type: 'object' }), schemaKey(JSON.parse('{"type":"object"}')));
  t.not(schemaKey({ type: 'object' }), schemaKey({ type: 'object', title: 'x' }));
  t.regex(schemaKey({}), /^[0-9a-f]{64}$/);
});
