import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const script = fileURLToPath(new URL('../../../../scripts/demo-run.sh', import.meta.url));

test("the README's demo runs: the credential roams to the second endpoint, and its deletion follows", async (t) => {
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
    (resolve) => {
      execFile('bash', [script], { env: { PATH: process.env.PATH } }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    },
  );
  t.is(code, 0, stderr);
  t.regex(stdout, /certificate or key bytes found in clear: 0/);
  t.regex(stdout, /download cert [0-9a-f]{16}… {2}new in the directory/);
  const [openssl, desktop] = [
    /openssl: sha256 fingerprint=([0-9a-f]{64})/,
    /desktop: sha256 fingerprint=([0-9a-f]{64})/,
  ].map((r) => r.exec(stdout)?.[1]);
  t.truthy(openssl);
  t.is(desktop, openssl);
  t.regex(stdout, /nothing changed since the last sync \(one read of the change stamp\)/);
  t.regex(stdout, /remove-local cert [0-9a-f]{16}… {2}deleted on another endpoint/);
  t.regex(stdout, /\$ credroam --config laptop.json list\nno credentials/);
});
