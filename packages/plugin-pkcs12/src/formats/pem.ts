import { CredroamError } from '@credroam/core/api';

/** One PEM block: its label, its text (as OpenSSL reads it) and its decoded bytes. */
export interface PemBlock {
  readonly label: string;
  readonly text: string;
  readonly der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 .#]+)-----\n([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/=\n]*$/;

/**
 * The PEM blocks of a text (RFC 7468, and OpenSSL's older forms): any line endings, text before,
 * between and after the blocks (`openssl x509 -text` output), RFC 1421 headers (`Proc-Type`,
 * `DEK-Info`) kept in the block's text for the key reader. A block whose base64 is damaged is an
 * error naming it; nothing is guessed.
 */
export function pemBlocks(text: string): PemBlock[] {
  const normalized = text.replace(/\r\n?/g, '\n');
  const blocks: PemBlock[] = [];
  for (const [block, label, body] of normalized.matchAll(BLOCK)) {
    const lines = body!.split('\n').map((l) => l.trim());
    const headerEnd = lines.indexOf('');
    const hasHeaders = lines[0]?.includes(':') === true;
    const base64 = (hasHeaders && headerEnd >= 0 ? lines.slice(headerEnd + 1) : lines).join('\n');
    if (!BASE64.test(base64)) {
      throw new CredroamError('E_PEM', `the ${label} block's base64 is damaged; nothing was imported`, {
        label,
      });
    }
    blocks.push({ label: label!, text: block, der: new Uint8Array(Buffer.from(base64, 'base64')) });
  }
  return blocks;
}

export const looksLikePem = (data: Uint8Array): boolean =>
  Buffer.from(data.subarray(0, 64 * 1024))
    .toString('latin1')
    .includes('-----BEGIN ');
