import type { TokenKind } from '../api/extension-points.js';
import { decodeCredentialAttributes } from './attributes.js';
import { describeCertificate } from './certificate.js';
import { privateKeyId } from './key-id.js';

/** What the engine learns from a credential's content. */
export interface ContentFacts {
  /**
   * SHA-256 (hex) of the certificate's DER, or of the key's SubjectPublicKeyInfo; attributes: the
   * id of the certificate they name.
   */
  readonly id: string;
  /**
   * Certificates: the end of validity (ms since the epoch); absent when the certificate's time
   * cannot be read (not a date): such a certificate is never archived as expired.
   */
  readonly notAfter?: number;
}

/**
 * Derives ids from validated content: the engine never trusts an id it is given (by the directory
 * or by a local file name). Throws for content that does not parse. A key's id is read from its
 * own bytes where OpenSSL would export them as they are, without checking that an EC point lies on
 * its curve (decision 029): the keys the engine meets are authenticated under the user's keys.
 */
export interface ContentInspector {
  inspect(kind: TokenKind, content: Uint8Array): ContentFacts;
}
export const ContentInspector = Symbol.for('credroam.ContentInspector');

/** The real inspector, on Node's native X.509 and key parsing. */
export class X509ContentInspector implements ContentInspector {
  inspect(kind: TokenKind, content: Uint8Array): ContentFacts {
    if (kind === 'cert') {
      const { id, notAfter } = describeCertificate(content);
      return { id, ...(notAfter !== undefined ? { notAfter } : {}) };
    }
    if (kind === 'attrs') return { id: decodeCredentialAttributes(content).cert };
    if (kind !== 'key') throw new Error(`unknown token kind ${String(kind)}`);
    return { id: privateKeyId(content) };
  }
}
