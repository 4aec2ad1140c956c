import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  associatedData,
  type DirectoryChange,
  type DirectorySnapshot,
  EventId,
  EventLog,
  encodeCredentialAttributes,
  encodeHeader,
  encodeToken,
  type LogRecord,
  TokenFlag,
  type TokenKind,
} from '@credroam/core';
import { privateKeyId } from '@credroam/core/kit';
import { makeClientCert, type Slapd, startProviders, userDn } from '@credroam/plugin-ldap/testing';
import test from 'ava';
import { certificateId } from '../src/cli/credentials.js';
import { loadConfig } from '../src/config.js';
import { openSession, type Session } from '../src/session.js';
import { openssl, opensslSelfSigned, tempDir } from './support.js';

/**
 * The hostile-directory suite (issue 9): each row plants values on alice's entry as a writer
 * without her keys would — through the same directory plugin, as the directory's operator or
 * anyone with write access to the entry can — then two endpoints that already hold her
 * credentials sync, through the real composition root (plugins, pkcs12 store, master keys), on
 * the embedded folder directory and on a real slapd. Every row checks: the sync ends done or done
 * with skipped items (exit 0 or 3), the event the row names was logged, each endpoint's store is
 * byte for byte what it was, nothing was written outside the stores, and after an honest sync a
 * new endpoint gets every credential back, private keys that open included.
 */

type Backend = 'folder' | 'ldap';
const BACKENDS: readonly Backend[] = ['folder', 'ldap'];
const PASSWORD = 'alice roaming password';
const KDF = { name: 'scrypt', N: 16384, r: 8, p: 1 };

interface Credential {
  readonly cert: Uint8Array;
  readonly key: Uint8Array;
  readonly certId: string;
  readonly keyId: string;
}

/** What a row's `plant` can see and do: alice's entry, raw, and what an outsider could collect. */
interface Plant {
  readonly user: string;
  read(): Promise<DirectorySnapshot>;
  /** Writes; the stamp is replaced with a fresh value unless the change names its own. */
  write(change: Omit<DirectoryChange, 'stamp'> & { stamp?: DirectoryChange['stamp'] }): Promise<void>;
  /** alice's genuine token values of a kind (cert or key), read from the entry. */
  genuine(kind: TokenKind): Promise<Uint8Array[]>;
  /** Values from another user's entry (bob's), genuine for bob. */
  readonly bob: { readonly tokens: readonly Uint8Array[]; readonly keys: readonly Uint8Array[] };
  readonly creds: readonly Credential[];
  /** A file a traversal would create; the row checks it never appears. */
  readonly outside: string;
  /** Values the writer saw on the entry earlier (rows with `history`): a genuine old tombstone. */
  readonly past: readonly Uint8Array[];
  /** The folder directory's files of this user (folder rows only). */
  readonly folder?: { readonly values: string; readonly stamp: string };
}

interface Row {
  readonly name: string;
  readonly only?: Backend;
  /** Event ids that must appear in the endpoints' logs (each at least once; a list: any one of them). */
  readonly events: ReadonlyArray<number | readonly number[]>;
  /**
   * Before the attack, endpoint A deletes the first credential (a genuine tombstone roams, and the
   * writer keeps a copy) and imports it again later (it is live again).
   */
  readonly history?: boolean;
  /** After the honest sync a new endpoint opens the keys only once an endpoint ran `passwd` (see the row). */
  readonly freshNeedsPasswd?: boolean;
  plant(p: Plant): Promise<void>;
}

// --- values as a writer without the keys can make them -------------------------------------------

const replaceAll = (p: Plant, kind: 'tokens' | 'keys', values: Uint8Array[]) =>
  p.read().then((s) => p.write({ [kind]: { remove: [...s[kind]], add: values } }));
const add = (p: Plant, kind: 'tokens' | 'keys', values: Uint8Array[]) =>
  p.write({ [kind]: { remove: [], add: values } });
/** Replaces one genuine value with `change(value)`. */
async function alter(p: Plant, kind: TokenKind, change: (v: Buffer) => Uint8Array): Promise<void> {
  const [v] = await p.genuine(kind);
  await p.write({ tokens: { remove: [v!], add: [change(Buffer.from(v!))] } });
}
const redate = (by: number) => (v: Buffer) => {
  const out = Buffer.from(v);
  out.writeBigUInt64BE(out.readBigUInt64BE(6) + BigInt(by), 6);
  return new Uint8Array(out);
};
const flip =
  (offset: number | ((v: Buffer) => number), mask = 0x01) =>
  (v: Buffer) => {
    const out = Buffer.from(v);
    const at = typeof offset === 'number' ? offset : offset(v);
    out[at]! ^= mask;
    return new Uint8Array(out);
  };
/** A token sealed properly, but under a key that is not alice's: what a forger can make. */
function forge(
  user: string,
  o: { kind: TokenKind; id: string; flags?: number; modified?: number; payload?: Uint8Array },
): Uint8Array {
  const h = { kind: o.kind, flags: o.flags ?? 0, modified: o.modified ?? Date.now(), id: o.id };
  const unsized = encodeHeader({ ...h, payloadLength: 0 });
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), nonce);
  cipher.setAAD(associatedData(user, unsized));
  const body = Buffer.concat([cipher.update(o.payload ?? randomBytes(64)), cipher.final()]);
  const sealed = Buffer.concat([randomBytes(8), nonce, body, cipher.getAuthTag()]);
  return encodeToken(encodeHeader({ ...h, payloadLength: sealed.length }), sealed);
}
/** A header with chosen fields and a garbage payload of the stated length. */
function rawToken(o: { kind?: number; flags?: number; version?: number; reserved?: number; id?: Buffer }) {
  const header = Buffer.from(
    encodeHeader({ kind: 'cert', flags: 0, modified: Date.now(), id: '00'.repeat(32), payloadLength: 40 }),
  );
  if (o.kind !== undefined) header[3] = o.kind;
  if (o.flags !== undefined) header[4] = o.flags;
  if (o.version !== undefined) header[2] = o.version;
  if (o.reserved !== undefined) header[5] = o.reserved;
  if (o.id) o.id.copy(header, 14);
  return new Uint8Array(Buffer.concat([header, randomBytes(40)]));
}
const wrapped = (o: Record<string, unknown>) =>
  new TextEncoder().encode(
    JSON.stringify({
      format: 'credroam-master-key',
      version: 1,
      keyId: randomBytes(8).toString('hex'),
      created: Date.now(),
      wrap: 'password',
      kdf: { ...KDF, salt: randomBytes(16).toString('base64') },
      nonce: randomBytes(12).toString('base64'),
      ciphertext: randomBytes(48).toString('base64'),
      ...o,
    }),
  );
async function editFolder(p: Plant, edit: (v: { tokens: string[]; keys: string[] }) => void): Promise<void> {
  const v = JSON.parse(await readFile(p.folder!.values, 'utf8')) as { tokens: string[]; keys: string[] };
  edit(v);
  await writeFile(p.folder!.values, JSON.stringify(v));
}
const garbage = (n: number) => new Uint8Array(randomBytes(n));

const E = EventId;
const ROWS: readonly Row[] = [
  // Token values altered in place: authentication fails, the value is left, the rest roams.
  {
    name: 'a bit flipped in a certificate’s sealed payload',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      alter(
        p,
        'cert',
        flip((v) => v.length - 20),
      ),
  },
  {
    name: 'a bit flipped in a private key’s sealed payload',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      alter(
        p,
        'key',
        flip((v) => v.length - 30),
      ),
  },
  {
    name: 'a bit flipped in the authentication tag',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      alter(
        p,
        'cert',
        flip((v) => v.length - 1),
      ),
  },
  {
    name: 'a bit flipped in the nonce',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'key', flip(90 + 9)),
  },
  {
    name: 'the master key id of the seal changed',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', flip(90)),
  },
  {
    name: 're-labelled: the id changed',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', flip(20)),
  },
  {
    name: 're-dated a day into the past',
    events: [[E.TokenAuthenticationFailed, E.TokenRolledBack]],
    plant: (p) => alter(p, 'cert', redate(-86_400_000)),
  },
  {
    name: 're-dated a minute into the future',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', redate(60_000)),
  },
  {
    name: 're-dated years into the future',
    events: [[E.TokenFromFuture, E.TokenAuthenticationFailed]],
    plant: (p) => alter(p, 'key', redate(5 * 365 * 86_400_000)),
  },
  {
    name: 'a live value re-flagged as a tombstone',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', flip(4, TokenFlag.Tombstone)),
  },
  {
    name: 'a live value re-flagged as archived',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', flip(4, TokenFlag.Archived)),
  },
  {
    name: 'a certificate re-kinded as a key',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', flip(3, 0x03)),
  },
  {
    name: 'the sealed payload cut short',
    events: [E.TokenMalformed],
    plant: (p) => alter(p, 'cert', (v) => new Uint8Array(v.subarray(0, v.length - 25))),
  },
  {
    name: 'the payload length field overstated',
    events: [E.TokenMalformed],
    plant: (p) => alter(p, 'key', flip(88, 0x04)),
  },
  {
    name: 'a value cut inside its header',
    events: [E.TokenMalformed],
    plant: (p) => alter(p, 'cert', (v) => new Uint8Array(v.subarray(0, 40))),
  },
  {
    name: 'the magic bytes changed',
    events: [E.TokenMalformed],
    plant: (p) => alter(p, 'cert', flip(0, 0x20)),
  },
  {
    name: 'an unknown format version',
    events: [E.TokenMalformed],
    plant: (p) => alter(p, 'cert', flip(2, 0x08)),
  },
  { name: 'the reserved byte set', events: [E.TokenMalformed], plant: (p) => alter(p, 'key', flip(5, 0x01)) },
  { name: 'unknown flags set', events: [E.TokenMalformed], plant: (p) => alter(p, 'cert', flip(4, 0x80)) },
  // Values planted beside the genuine ones.
  { name: 'garbage bytes', events: [E.TokenMalformed], plant: (p) => add(p, 'tokens', [garbage(300)]) },
  { name: 'a value of one byte', events: [E.TokenMalformed], plant: (p) => add(p, 'tokens', [garbage(1)]) },
  {
    name: 'a header with an unknown kind',
    events: [E.TokenUnknownKind],
    plant: (p) => add(p, 'tokens', [rawToken({ kind: 9 })]),
  },
  {
    name: 'a value over the size limit',
    events: [E.TokenTooLarge],
    plant: (p) => add(p, 'tokens', [garbage(70_000)]),
  },
  {
    name: 'an id whose bytes spell a path (../../ traversal)',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      add(p, 'tokens', [
        forge(p.user, {
          kind: 'cert',
          id: Buffer.from('../../../../tmp/x.bat'.padEnd(32, '/')).toString('hex'),
        }),
      ]),
  },
  {
    name: 'a forged certificate under a key that is not alice’s',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => add(p, 'tokens', [forge(p.user, { kind: 'cert', id: randomBytes(32).toString('hex') })]),
  },
  // Attributes (friendly name, CA chain: kind 3) forged without alice's keys.
  {
    name: 'forged attributes for alice’s certificate (a name and chain of the writer’s choosing)',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      add(p, 'tokens', [
        forge(p.user, {
          kind: 'attrs',
          id: p.creds[0]!.certId,
          payload: encodeCredentialAttributes({
            cert: p.creds[0]!.certId,
            friendlyName: 'Pay here',
            chain: [],
          }),
        }),
      ]),
  },
  {
    name: 'a certificate value re-kinded as attributes',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => alter(p, 'cert', flip(3, 0x02)),
  },
  {
    name: 'a flood of 300 forged attributes values',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      add(
        p,
        'tokens',
        Array.from({ length: 300 }, () =>
          forge(p.user, { kind: 'attrs', id: randomBytes(32).toString('hex') }),
        ),
      ),
  },
  {
    name: 'a forged newer version of alice’s own certificate',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      add(p, 'tokens', [
        forge(p.user, { kind: 'cert', id: p.creds[0]!.certId, modified: Date.now() + 60_000 }),
      ]),
  },
  {
    name: 'a forged tombstone for alice’s certificate',
    events: [E.TokenAuthenticationFailed],
    plant: (p) =>
      add(p, 'tokens', [
        forge(p.user, {
          kind: 'cert',
          id: p.creds[0]!.certId,
          flags: TokenFlag.Tombstone,
          modified: Date.now() + 60_000,
        }),
      ]),
  },
  {
    name: 'a forged tombstone for alice’s private key, dated far in the future',
    events: [[E.TokenFromFuture, E.TokenAuthenticationFailed]],
    plant: (p) =>
      add(p, 'tokens', [
        forge(p.user, {
          kind: 'key',
          id: p.creds[1]!.keyId,
          flags: TokenFlag.Tombstone,
          modified: Date.now() + 10 * 365 * 86_400_000,
        }),
      ]),
  },
  {
    name: 'a genuine certificate and key replaced by forged ones (same ids)',
    events: [E.TokenAuthenticationFailed],
    plant: async (p) => {
      const c = p.creds[0]!;
      await replaceAll(p, 'tokens', [
        ...(await p.genuine('cert')).slice(1),
        ...(await p.genuine('key')).slice(1),
        forge(p.user, { kind: 'cert', id: c.certId }),
        forge(p.user, { kind: 'key', id: c.keyId }),
      ]);
    },
  },
  {
    name: 'values copied from another user’s entry',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => add(p, 'tokens', [...p.bob.tokens]),
  },
  {
    name: 'all of alice’s values replaced by another user’s',
    events: [E.TokenAuthenticationFailed],
    plant: (p) => replaceAll(p, 'tokens', [...p.bob.tokens]),
  },
  // Values removed: the endpoints that hold them put them back.
  {
    name: 'one certificate deleted',
    events: [E.TokenUploaded],
    plant: async (p) => p.write({ tokens: { remove: (await p.genuine('cert')).slice(0, 1), add: [] } }),
  },
  {
    name: 'one private key deleted',
    events: [E.TokenUploaded],
    plant: async (p) => p.write({ tokens: { remove: (await p.genuine('key')).slice(0, 1), add: [] } }),
  },
  { name: 'every token deleted', events: [E.TokenUploaded], plant: (p) => replaceAll(p, 'tokens', []) },
  {
    name: 'every token replaced by garbage',
    events: [E.TokenUploaded, E.TokenMalformed],
    plant: (p) => replaceAll(p, 'tokens', [garbage(500), garbage(90), garbage(7)]),
  },
  {
    name: 'more values than twice the limit (4 001 garbage values)',
    events: [E.TooManyTokens],
    plant: (p) =>
      add(
        p,
        'tokens',
        Array.from({ length: 4_001 }, () => garbage(24)),
      ),
  },
  // The change stamp: opaque values; nothing a writer puts there costs anything.
  {
    name: 'the stamp deleted',
    events: [],
    plant: async (p) => p.write({ stamp: { remove: [...(await p.read()).stamp], add: [] } }),
  },
  {
    name: 'the stamp replaced by 50 garbage values',
    events: [],
    plant: async (p) =>
      p.write({
        stamp: { remove: [...(await p.read()).stamp], add: Array.from({ length: 50 }, () => garbage(16)) },
      }),
  },
  {
    name: 'a stamp value of 60 KB',
    events: [],
    plant: async (p) => p.write({ stamp: { remove: [...(await p.read()).stamp], add: [garbage(60_000)] } }),
  },
  {
    name: 'a value changed behind an unchanged stamp (a full sync still finds it)',
    events: [E.TokenAuthenticationFailed],
    plant: async (p) => {
      const [v] = await p.genuine('cert');
      const stamp = (await p.read()).stamp;
      await p.write({
        tokens: { remove: [v!], add: [flip((x) => x.length - 3)(Buffer.from(v!))] },
        stamp: { remove: [...stamp], add: [...stamp] },
      });
    },
  },
  // Replays of genuine old values.
  {
    name: 'a genuine old tombstone replayed after the credential was imported again',
    events: [],
    history: true,
    plant: (p) => add(p, 'tokens', [...p.past]),
  },
  {
    name: 'a genuine old tombstone replayed in place of the live values',
    events: [E.TokenUploaded],
    history: true,
    plant: async (p) => {
      const live = [...(await p.genuine('cert')), ...(await p.genuine('key'))];
      const tombstoned = new Set(p.past.map((v) => Buffer.from(v).subarray(14, 46).toString('hex')));
      const gone = live.filter((v) => tombstoned.has(Buffer.from(v).subarray(14, 46).toString('hex')));
      await p.write({ tokens: { remove: gone, add: [...p.past] } });
    },
  },
  // The folder directory's own file (a share anyone with write access can edit by hand).
  {
    name: 'a token value present three times in the folder’s file',
    only: 'folder',
    events: [E.DirectoryValueDuplicated],
    plant: (p) => editFolder(p, (v) => v.tokens.push(v.tokens[0]!, v.tokens[0]!)),
  },
  {
    name: 'entries of the folder’s file that are not base64 strings',
    only: 'folder',
    events: [E.DirectoryValueUnreadable],
    plant: (p) =>
      editFolder(p, (v) => v.tokens.push(42 as never, null as never, { x: 1 } as never, '%%%not base64%%%')),
  },
  {
    name: 'wrapped-key entries of the folder’s file that are not strings',
    only: 'folder',
    events: [E.DirectoryValueUnreadable],
    plant: (p) => editFolder(p, (v) => v.keys.push([] as never, 7 as never)),
  },
  {
    name: 'a garbled stamp file',
    only: 'folder',
    events: [E.DirectoryValueUnreadable],
    plant: async (p) => writeFile(p.folder!.stamp, '{"not": "a stamp"'),
  },
  // Wrapped master keys.
  {
    name: 'every wrapped master key deleted',
    events: [E.MasterKeyRestored],
    plant: (p) => replaceAll(p, 'keys', []),
  },
  {
    name: 'every wrapped master key garbled',
    events: [E.MasterKeyRestored, E.WrappedKeySkipped],
    plant: (p) => replaceAll(p, 'keys', [garbage(200)]),
  },
  {
    name: 'the wrapped master key’s ciphertext altered',
    events: [E.WrappedKeyDiffers],
    // The endpoints holding the key go on with their own copies; as the altered value could be a
    // re-wrap for a new password made elsewhere, they do not replace it. A new endpoint opens the
    // key once an endpoint ran `credroam passwd` with the current password (1022 says so).
    freshNeedsPasswd: true,
    plant: async (p) => {
      const [v] = (await p.read()).keys;
      const w = JSON.parse(Buffer.from(v!).toString('utf8')) as { ciphertext: string };
      const c = Buffer.from(w.ciphertext, 'base64');
      c[0]! ^= 1;
      await replaceAll(p, 'keys', [
        new TextEncoder().encode(JSON.stringify({ ...w, ciphertext: c.toString('base64') })),
      ]);
    },
  },
  {
    name: 'six wrapped keys at the schema’s upper bound (scrypt 1 GiB each)',
    events: [E.WrappedKeySkipped],
    plant: (p) =>
      add(
        p,
        'keys',
        Array.from({ length: 6 }, () =>
          wrapped({ kdf: { name: 'scrypt', N: 2 ** 20, r: 8, p: 1, salt: 'AAAA' } }),
        ),
      ),
  },
  {
    name: 'a wrapped key asking for 10^12 PBKDF2 iterations',
    events: [E.WrappedKeySkipped],
    plant: (p) =>
      add(p, 'keys', [wrapped({ kdf: { name: 'pbkdf2-sha256', iterations: 1e12, salt: 'AAAA' } })]),
  },
  {
    name: 'another user’s wrapped key',
    events: [E.WrappedKeySkipped],
    plant: (p) => add(p, 'keys', [...p.bob.keys]),
  },
  {
    name: '100 plausible wrapped keys',
    events: [E.WrappedKeySkipped],
    plant: (p) =>
      add(
        p,
        'keys',
        Array.from({ length: 100 }, () => wrapped({})),
      ),
  },
  {
    name: 'a wrapped key over 4 KiB',
    events: [E.WrappedKeySkipped],
    plant: (p) => add(p, 'keys', [wrapped({ pad: 'x'.repeat(5000) })]),
  },
  {
    name: 'a wrapped key whose KDF is not an object',
    events: [E.WrappedKeySkipped],
    plant: (p) => add(p, 'keys', [wrapped({ kdf: 'scrypt' })]),
  },
  {
    name: 'a wrapped key of an unknown KDF',
    events: [E.WrappedKeySkipped],
    plant: (p) => add(p, 'keys', [wrapped({ kdf: { name: 'md5', salt: 'AAAA' } })]),
  },
  {
    name: 'a wrapped key that is not JSON',
    events: [E.WrappedKeySkipped],
    plant: (p) => add(p, 'keys', [new TextEncoder().encode('{"format":"credroam-master-key",')]),
  },
  {
    name: 'a fake escrow-wrapped key beside the real ones',
    events: [],
    plant: (p) => add(p, 'keys', [wrapped({ wrap: 'escrow', escrowKey: '00'.repeat(32) })]),
  },
];

// --- the world each backend runs in ---------------------------------------------------------------

interface BackendWorld {
  readonly folder?: (user: string) => { values: string; stamp: string };
  directorySettings(user: string): Promise<{ use: string; settings: Record<string, unknown> }>;
  stop(): Promise<void>;
}

async function folderWorld(root: string): Promise<BackendWorld> {
  const dir = path.join(root, 'folder-directory');
  await mkdir(dir);
  return {
    folder: (user) => ({ values: path.join(dir, user, 'values'), stamp: path.join(dir, user, 'stamp') }),
    directorySettings: async () => ({ use: 'folder', settings: { url: pathToFileURL(dir).href } }),
    stop: async () => undefined,
  };
}

async function ldapWorld(users: readonly string[]): Promise<BackendWorld> {
  const started = await startProviders(1, { users });
  const server: Slapd = started.servers[0]!;
  // One at a time: openssl's CA serial file is not safe for concurrent issuing.
  const certs = new Map<string, { cert: string; key: string }>();
  for (const user of users) certs.set(user, await makeClientCert(server.tls, user));
  return {
    async directorySettings(user) {
      const client = certs.get(user)!;
      return {
        use: 'ldap',
        settings: {
          url: server.ldapsUrl,
          caFile: server.tls.ca,
          userDn: userDn(user),
          bind: 'external',
          clientCertFile: client.cert,
          clientKeyFile: client.key,
        },
      };
    },
    stop: () => started.stop(),
  };
}

const USERS = [...ROWS.map((_, i) => `row${i}`), 'bob'];
const worlds = new Map<Backend, BackendWorld>();
const creds: Credential[] = [];
let scratch: string;

test.before(async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  scratch = await mkdtemp(path.join(os.tmpdir(), 'credroam-hostile-'));
  for (const name of ['one', 'two']) {
    await opensslSelfSigned(scratch, name);
    await openssl(['x509', '-in', `${name}.cert.pem`, '-outform', 'DER', '-out', `${name}.der`], scratch);
    await openssl(
      ['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.key.pem`, '-outform', 'DER', '-out', `${name}.p8`],
      scratch,
    );
    const cert = new Uint8Array(await readFile(path.join(scratch, `${name}.der`)));
    const key = new Uint8Array(await readFile(path.join(scratch, `${name}.p8`)));
    creds.push({ cert, key, certId: certificateId(cert), keyId: privateKeyId(key) });
  }
  worlds.set('folder', await folderWorld(scratch));
  worlds.set('ldap', await ldapWorld(USERS));
});
test.after.always(async () => {
  for (const w of worlds.values()) await w.stop();
  const { rm } = await import('node:fs/promises');
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Endpoint {
  readonly home: string;
  /** A fresh session, as one CLI command opens it; events recorded. */
  open(): Promise<{ session: Session; events: LogRecord[] }>;
}

async function endpointOf(root: string, name: string, user: string, backend: Backend): Promise<Endpoint> {
  const home = path.join(root, name);
  const policy = path.join(root, 'policy.json');
  await writeFile(policy, JSON.stringify({ protection: { kdf: KDF } }));
  const config = path.join(root, `${name}.json`);
  await writeFile(
    config,
    JSON.stringify({ user, home, policy, directory: await worlds.get(backend)!.directorySettings(user) }),
  );
  return {
    home,
    async open() {
      const events: LogRecord[] = [];
      const log = new EventLog({ write: () => undefined, level: 'debug' });
      log.subscribe((r) => events.push(r));
      const session = await openSession(await loadConfig(config, {}), log, {
        password: async () => PASSWORD,
      });
      return { session, events };
    },
  };
}

/** One CLI-like run: unlock, a full sync; the exit code the CLI would give (0, 3; 1 on an error). */
async function syncOnce(
  e: Endpoint,
  then?: (session: Session) => Promise<void>,
): Promise<{ code: number; events: LogRecord[]; error?: string }> {
  const { session, events } = await e.open();
  try {
    await session.protector.unlock?.({ password: PASSWORD });
    const report = await session.engine.sync({ full: true });
    await then?.(session);
    return { code: report.skipped.length > 0 ? 3 : 0, events };
  } catch (error) {
    return { code: 1, events, error: (error as Error).message };
  } finally {
    await session.dispose();
  }
}

/** Every file under `dir` with the SHA-256 of its bytes and its mode. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const { lstat } = await import('node:fs/promises');
  for (const entry of await readdir(dir, { recursive: true })) {
    const file = path.join(dir, entry);
    const st = await lstat(file);
    if (!st.isFile()) continue;
    out[entry] = `${createHash('sha256')
      .update(await readFile(file))
      .digest('hex')} ${st.mode.toString(8)}`;
  }
  return out;
}

/** Files an endpoint may change while syncing, outside its store: its state, status and key copy. */
const MUTABLE =
  /^(a|b)\/(state\/|status\.json$|keys\.json$|store\/|run\/)|^(c|writer)\/|^(a|b|c|policy|writer)\.json$/;

async function bobsValues(root: string, backend: Backend): Promise<DirectorySnapshot> {
  const bob = await endpointOf(root, 'bob', 'bob', backend);
  const { session } = await bob.open();
  try {
    await session.protector.unlock?.({ password: 'bob password' });
    await session.local.put({
      kind: 'cert',
      id: creds[1]!.certId,
      content: creds[1]!.cert,
      archived: false,
      modified: Date.now(),
    });
    await session.engine.sync({ full: true });
    return await session.directory.read();
  } finally {
    await session.dispose();
  }
}

/** A deletes the first credential and syncs (B too); the writer keeps the tombstones; A imports it again. */
async function deleteAndImportAgain(
  root: string,
  user: string,
  backend: Backend,
  a: Endpoint,
  b: Endpoint,
): Promise<Uint8Array[]> {
  const c = creds[0]!;
  await syncOnce(a, async (s) => {
    await s.local.remove('cert', c.certId);
    await s.local.remove('key', c.keyId);
    await s.engine.sync({ full: true });
  });
  await syncOnce(b);
  const writer = await endpointOf(root, 'writer', user, backend);
  const { session } = await writer.open();
  const { decodeHeader } = await import('@credroam/core');
  const tombstones = (await session.directory.read()).tokens.filter((v) => {
    const h = decodeHeader(v, 1 << 20);
    return h.ok && (h.header.flags & TokenFlag.Tombstone) !== 0;
  });
  await session.dispose();
  await new Promise((r) => setTimeout(r, 5));
  await syncOnce(a, async (s) => {
    await s.local.put({ kind: 'key', id: c.keyId, content: c.key, archived: false, modified: Date.now() });
    await s.local.put({ kind: 'cert', id: c.certId, content: c.cert, archived: false, modified: Date.now() });
    await s.engine.sync({ full: true });
  });
  await syncOnce(b);
  return tombstones;
}

for (const backend of BACKENDS) {
  // bob's values, made once per backend (rows run concurrently: one promise for all of them).
  let bobs: Promise<DirectorySnapshot> | undefined;
  ROWS.forEach((row, index) => {
    if (row.only && row.only !== backend) return;
    test(`${backend} › ${row.name}`, async (t) => {
      const root = await tempDir(t, 'credroam-row-');
      bobs ??= tempDir(t, 'credroam-bob-').then((d) => bobsValues(d, backend));
      const bob = await bobs;
      const user = `row${index}`;
      const [a, b] = [await endpointOf(root, 'a', user, backend), await endpointOf(root, 'b', user, backend)];
      // alice's two credentials, roamed to both endpoints.
      {
        const { session } = await a.open();
        await session.protector.unlock?.({ password: PASSWORD });
        for (const c of creds) {
          await session.local.put({
            kind: 'key',
            id: c.keyId,
            content: c.key,
            archived: false,
            modified: Date.now(),
          });
          await session.local.put({
            kind: 'cert',
            id: c.certId,
            content: c.cert,
            archived: false,
            modified: Date.now(),
          });
        }
        await session.engine.sync({ full: true });
        await session.dispose();
      }
      t.is((await syncOnce(b)).code, 0);
      const past = row.history ? await deleteAndImportAgain(root, user, backend, a, b) : [];
      const stores = {
        a: await snapshot(path.join(a.home, 'store')),
        b: await snapshot(path.join(b.home, 'store')),
      };
      const outside = path.join(root, 'outside-marker');
      const before = Object.keys(await snapshot(root)).filter((f) => !MUTABLE.test(f));

      // The writer: alice's entry through the same directory plugin, without her keys.
      const writer = await endpointOf(root, 'writer', user, backend);
      {
        const { session } = await writer.open();
        const d = session.directory;
        const { decodeHeader } = await import('@credroam/core');
        await row.plant({
          user,
          read: () => d.read(),
          write: async (change) => {
            const snap = await d.read();
            await d.write({
              ...change,
              stamp: change.stamp ?? { remove: [...snap.stamp], add: [new Uint8Array(randomBytes(16))] },
            });
          },
          genuine: async (kind) =>
            (await d.read()).tokens.filter((v) => {
              const h = decodeHeader(v, 1 << 20);
              return h.ok && h.header.kind === kind && (h.header.flags & TokenFlag.Tombstone) === 0;
            }),
          bob: { tokens: bob.tokens, keys: bob.keys },
          creds,
          outside,
          past,
          ...(backend === 'folder' ? { folder: worlds.get(backend)!.folder!(user) } : {}),
        });
        await session.dispose();
      }

      const events: LogRecord[] = [];
      for (const e of [b, a]) {
        const r = await syncOnce(e);
        t.true(r.code === 0 || r.code === 3, `sync exit ${r.code}: ${r.error ?? ''}`);
        events.push(...r.events);
      }
      for (const id of row.events) {
        const any = typeof id === 'number' ? [id] : id;
        t.true(
          events.some((e) => any.includes(e.event)),
          `event ${any.join(' or ')} was logged (got ${[...new Set(events.map((e) => e.event))].join(', ')})`,
        );
      }
      t.deepEqual(
        await snapshot(path.join(b.home, 'store')),
        stores.b,
        'B’s store is unchanged, byte for byte',
      );
      t.deepEqual(
        await snapshot(path.join(a.home, 'store')),
        stores.a,
        'A’s store is unchanged, byte for byte',
      );
      const after = Object.keys(await snapshot(root)).filter((f) => !MUTABLE.test(f));
      t.deepEqual(after, before, 'no file was created outside the stores');

      // An honest sync, then a new endpoint: every credential, every key that opens.
      const honest = await syncOnce(a);
      t.true(honest.code === 0 || honest.code === 3, honest.error);
      const c = await endpointOf(root, 'c', user, backend);
      if (row.freshNeedsPasswd) {
        t.is((await syncOnce(c)).code, 1, 'the new endpoint cannot open the altered key');
        const { session } = await a.open();
        await session.protector.changePassword?.({ oldPassword: PASSWORD, newPassword: PASSWORD });
        await session.dispose();
      }
      const fresh = await syncOnce(c, async (session) => {
        const listing = await session.local.list();
        t.deepEqual(
          listing.items.map((i) => `${i.kind}:${i.id}`).sort(),
          creds.flatMap((x) => [`cert:${x.certId}`, `key:${x.keyId}`]).sort(),
          'a new endpoint gets every credential, with private keys that open',
        );
      });
      t.true(fresh.code === 0 || fresh.code === 3, fresh.error);
    });
  });
}
