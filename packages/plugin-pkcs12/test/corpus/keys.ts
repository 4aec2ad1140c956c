/** Keys and certificates made by `openssl` for the corpus and the matrix (never hard-coded). */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openssl } from './tools.js';

export const KEY_TYPES = ['rsa', 'rsa-pss', 'p256', 'p384', 'p521', 'ed25519', 'ed448', 'dsa'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const KEY_LABEL: Readonly<Record<KeyType, string>> = {
  rsa: 'RSA 2048',
  'rsa-pss': 'RSA-PSS 2048',
  p256: 'P-256',
  p384: 'P-384',
  p521: 'P-521',
  ed25519: 'Ed25519',
  ed448: 'Ed448',
  dsa: 'DSA 2048',
};

/** A key and its certificate as files in `dir`: `<name>.key` (PKCS#8 PEM) and `<name>.crt` (PEM). */
export interface Material {
  readonly dir: string;
  readonly name: string;
  readonly keyType: KeyType;
  readonly key: string;
  readonly cert: string;
}

const dsaParams = new Map<string, Promise<string>>();

async function genKey(dir: string, keyType: KeyType, out: string): Promise<void> {
  const args: Record<Exclude<KeyType, 'dsa'>, string[]> = {
    rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
    'rsa-pss': ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'],
    p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
    p521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
    ed25519: ['-algorithm', 'ED25519'],
    ed448: ['-algorithm', 'ED448'],
  };
  if (keyType === 'dsa') {
    let params = dsaParams.get(dir);
    if (!params) {
      params = openssl(
        [
          'genpkey',
          '-genparam',
          '-algorithm',
          'DSA',
          '-pkeyopt',
          'dsa_paramgen_bits:2048',
          '-out',
          'dsa-params.pem',
        ],
        dir,
      ).then(() => 'dsa-params.pem');
      dsaParams.set(dir, params);
    }
    await openssl(['genpkey', '-paramfile', await params, '-out', out], dir);
    return;
  }
  await openssl(['genpkey', ...args[keyType], '-out', out], dir);
}

/**
 * A key of `keyType` and its certificate for `/CN=<name>`: self-signed, or issued by `issuer`
 * (`ca: true` makes a CA certificate). Valid for 30 days.
 */
export async function makeCredential(
  dir: string,
  keyType: KeyType,
  name: string,
  options: { issuer?: Material; ca?: boolean; subject?: string } = {},
): Promise<Material> {
  const key = `${name}.key`;
  const cert = `${name}.crt`;
  await genKey(dir, keyType, key);
  const subject = options.subject ?? `/CN=${name}`;
  const ext = options.ca
    ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']
    : ['basicConstraints=CA:FALSE'];
  if (!options.issuer) {
    await openssl(
      [
        'req',
        '-x509',
        '-key',
        key,
        '-out',
        cert,
        '-days',
        '30',
        '-subj',
        subject,
        ...ext.flatMap((e) => ['-addext', e]),
      ],
      dir,
    );
  } else {
    await openssl(['req', '-new', '-key', key, '-out', `${name}.csr`, '-subj', subject], dir);
    await writeFile(path.join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        options.issuer.cert,
        '-CAkey',
        options.issuer.key,
        '-CAcreateserial',
        '-days',
        '30',
        '-extfile',
        `${name}.ext`,
        '-out',
        cert,
      ],
      dir,
    );
  }
  return { dir, name, keyType, key: path.join(dir, key), cert: path.join(dir, cert) };
}

/** A root CA, an intermediate it issued, and a P-256 leaf the intermediate issued. */
export async function makeChain(
  dir: string,
  leafType: KeyType = 'p256',
): Promise<{ root: Material; intermediate: Material; leaf: Material; bundle: string }> {
  const root = await makeCredential(dir, 'p256', 'root-ca', { ca: true, subject: '/CN=Corpus Root CA' });
  const intermediate = await makeCredential(dir, 'p256', 'intermediate-ca', {
    ca: true,
    issuer: root,
    subject: '/CN=Corpus Intermediate CA',
  });
  const leaf = await makeCredential(dir, leafType, 'chained-leaf', { issuer: intermediate });
  const bundle = path.join(dir, 'ca-bundle.pem');
  await writeFile(bundle, `${await readFile(intermediate.cert, 'utf8')}${await readFile(root.cert, 'utf8')}`);
  return { root, intermediate, leaf, bundle };
}
