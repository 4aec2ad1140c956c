#!/usr/bin/env node
// No `import 'reflect-metadata'` here: `@credroam/core` and `@credroam/core/engine` import it first,
// before the classes that need it, and only the commands that build an engine load them (decisions
// 024, 027).
import { onceStdin } from '../cli/io.js';
import { main } from '../cli/main.js';
import { readStream } from '../cli/secrets.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  stdin: onceStdin(() => readStream(process.stdin)),
});
