import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {
  type Holding,
  Mirror,
  type MirrorCredential,
  type MirrorTarget,
  type Parts,
} from '../../src/mirrors/mirror.js';

/** A destination in memory: certificates and keys by id. */
class MemoryTarget implements MirrorTarget {
  readonly certs = new Set<string>();
  readonly keys = new Set<string>();
  async read(): Promise<Holding> {
    return { certs: new Set(this.certs), keys: new Set(this.keys), hasAttributes: () => true };
  }
  async put(c: MirrorCredential, parts: Parts): Promise<void> {
    if (parts.cert) this.certs.add(c.certId);
    if (parts.key) this.keys.add(c.keyId);
  }
  async remove(certId: string, keyId: string | undefined): Promise<void> {
    this.certs.delete(certId);
    if (keyId !== undefined) this.keys.delete(keyId);
  }
}

const credential = (certId: string, keyId: string): MirrorCredential => ({
  certId,
  cert: new Uint8Array([1]),
  keyId,
  key: new Uint8Array([2]),
  keyUnknown: false,
});

test('a credential no longer wanted leaves the mirror without the key a wanted one (the user’s own too) shares with it', async (t) => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'credroam-mirror-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  const key = 'k'.repeat(64);
  for (const own of [false, true]) {
    const target = new MemoryTarget();
    const mirror = new Mirror(`memory:${own}`, home, target);
    const old = credential('a'.repeat(64), key);
    const renewed = credential('b'.repeat(64), key);
    if (own) target.certs.add(renewed.certId); // the user put the renewed certificate there first
    await mirror.update(own ? [old, renewed] : [old]);
    await mirror.update([renewed]);
    t.deepEqual([...target.certs], [renewed.certId]);
    t.deepEqual(
      [...target.keys],
      [key],
      own ? 'the user’s own key stays' : 'the key the renewed certificate uses stays',
    );
  }
});
