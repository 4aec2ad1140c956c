#!/usr/bin/env node
// No `import 'reflect-metadata'` here: `@credroam/core` and `@credroam/core/engine` import it first,
// before the classes that need it, and only the commands that build an engine load them (decisions
// 024, 027).
import { onceStdin } from '../cli/io.js';
import { main } from '../cli/main.js';
import { readStream } from '../cli/secrets.js';

/**
 * Writes to `stream` until its reader goes away (`credroam list | head -1`): that is no failure of
 * the command, which goes on and ends with its own exit code; what it would still print is dropped.
 */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  let gone = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    gone = true;
  });
  return (text) => {
    if (!gone) stream.write(text);
  };
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: writer(process.stdout),
  stderr: writer(process.stderr),
  env: process.env,
  stdin: onceStdin(() => readStream(process.stdin)),
});
