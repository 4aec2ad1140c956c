import type { LocalStore } from '@credroam/core/api';
import { certificateKeyId } from '@credroam/core/kit';
import type { Holding, MirrorCredential, MirrorTarget, Parts } from './mirror.js';

/**
 * A mirror into a local store (an NSS database, through the nss store's contribution): the same
 * store class the primary can be, each database with its own state folder. Written attributes
 * first (they name the certificate), then the certificate, then its key (NSS keeps a key with its
 * certificate); removed certificate, key, attributes: no key is left behind.
 */
export class StoreTarget implements MirrorTarget {
  constructor(readonly store: LocalStore) {}

  async read(): Promise<Holding> {
    const { items, unreadable } = await this.store.list();
    const attrs = new Map<string, Uint8Array>();
    for (const i of items) if (i.kind === 'attrs') attrs.set(i.id, i.content);
    // A key held that cannot be read out (NSS exports none without its certificate) is held too.
    const keys = [...items, ...unreadable].flatMap((i) =>
      i.kind === 'key' && i.id !== undefined ? [i.id] : [],
    );
    // Each certificate's key: one the user's own certificate uses stays when credroam's goes.
    const certKeys = new Map<string, string>();
    for (const i of items) {
      const keyId = i.kind === 'cert' ? certificateKeyId(i.content) : undefined;
      if (keyId !== undefined) certKeys.set(i.id, keyId);
    }
    return {
      certs: new Set(items.filter((i) => i.kind === 'cert').map((i) => i.id)),
      keys: new Set(keys),
      certKeys,
      hasAttributes: (c) => {
        const held = attrs.get(c.certId);
        return held !== undefined && c.attrs !== undefined && Buffer.from(held).equals(Buffer.from(c.attrs));
      },
    };
  }

  async put(c: MirrorCredential, parts: Parts): Promise<void> {
    const modified = Date.now();
    if (parts.attrs && c.attrs) {
      await this.store.put({ kind: 'attrs', id: c.certId, content: c.attrs, archived: false, modified });
    }
    if (parts.cert) {
      await this.store.put({ kind: 'cert', id: c.certId, content: c.cert, archived: false, modified });
    }
    if (parts.key && c.key) {
      await this.store.put({ kind: 'key', id: c.keyId, content: c.key, archived: false, modified });
    }
  }

  async remove(certId: string, keyId: string | undefined): Promise<void> {
    await this.store.remove('cert', certId);
    if (keyId !== undefined) await this.store.remove('key', keyId);
    await this.store.remove('attrs', certId);
  }
}
