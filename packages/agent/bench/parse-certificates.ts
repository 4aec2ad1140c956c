/**
 * The baseline of `list --json` and `status` (run as its own process): reads every certificate
 * file in the folder given, parses it, and prints what a listing shows of each, as JSON.
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const folder = process.argv[2]!;
const rows = [];
for (const name of await readdir(folder)) {
  const c = new X509Certificate(await readFile(path.join(folder, name)));
  rows.push({ sha256: c.fingerprint256, subject: c.subject, notAfter: c.validTo, serial: c.serialNumber });
}
process.stdout.write(`${JSON.stringify(rows)}\n`);
