#!/usr/bin/env node
import 'reflect-metadata';
import { onceStdin } from '../cli/io.js';
import { main } from '../cli/main.js';
import { readStream } from '../cli/secrets.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  stdin: onceStdin(() => readStream(process.stdin)),
});
