import { lstatSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * Imports a plugin's entry module from its file.
 *
 * Node's module resolution reads the file type of the last (l)stat that any code in the process made
 * through the shared stat buffer (`fs.statSync`, the callback `fs.stat` family, `fs.promises.rm`):
 * when that was a socket or a FIFO, the next resolution stops expanding links (nodejs/node#51142).
 * A plugin's dependencies would then be looked for from the folder of a link rather than from
 * the real package (under pnpm, chokidar's readdirp is found only beside the real chokidar). The
 * host cannot know what other code stat'ed before a lazy activation, so it stats the entry file
 * itself, right before the import: a regular file's type is what resolution reads.
 */
export async function importPluginModule(file: string): Promise<unknown> {
  lstatSync(file);
  return import(pathToFileURL(file).href);
}
