import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { TokenKind } from '../api/extension-points.js';
import { decodeCredentialAttributes } from './attributes.js';

/** What the engine learns from a credential's content. */
export interface ContentFacts {
  /**
   * SHA-256 (hex) of the certificate's DER, or of the key's SubjectPublicKeyInfo; attributes: the
   * id of the certificate they name.
   */
  readonly id: string;
  /** Certificates: the end of validity (ms since the epoch). */
  readonly notAfter?: number;
}

/**
 * Derives ids from validated content: the engine never trusts an id it is given (by the directory
 * or by a local file name). Throws for content that does not parse.
 */
export interface ContentInspector {
  inspect(kind: TokenKind, content: Uint8Array): ContentFacts;
}
export const ContentInspector = Symbol.for('credroam.ContentInspector');

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The real inspector, on Node's native X.509 and key parsing. */
export class X509ContentInspector implements ContentInspector {
  inspect(kind: TokenKind, content: Uint8Array): ContentFacts {
    if (kind === 'cert') {
      const cert = new X509Certificate(content);
      if (!Buffer.from(cert.raw).equals(Buffer.from(content)))
        throw new Error('trailing bytes after the certificate');
      return { id: sha256(content), notAfter: Date.parse(cert.validTo) };
    }
    if (kind === 'attrs') return { id: decodeCredentialAttributes(content).cert };
    if (kind !== 'key') throw new Error(`unknown token kind ${String(kind)}`);
    const key = createPrivateKey({ key: Buffer.from(content), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    return { id: sha256(spki) };
  }
}
