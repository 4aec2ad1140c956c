import { CredroamError } from '@credroam/core/api';

/** One PEM block: its label, its text (as OpenSSL reads it) and its decoded bytes. */
export interface PemBlock {
  readonly label: string;
  readonly text: string;
  readonly der: Uint8Array;
}

const BASE64 = /^[A-Za-z0-9+/=\n]*$/;
const BEGIN = /^-----BEGIN ([A-Z0-9 .#]+)-----$/;
/** Blocks one text may hold: a chain and its key are a few; a CA bundle a few hundred. */
export const MAX_PEM_BLOCKS = 1_000;

/**
 * The PEM blocks of a text (RFC 7468, and OpenSSL's older forms): any line endings, text before,
 * between and after the blocks (`openssl x509 -text` output), RFC 1421 headers (`Proc-Type`,
 * `DEK-Info`) kept in the block's text for the key reader. One pass over the lines (a text of
 * BEGIN lines costs no more than its length); at most 1 000 blocks. A block whose base64 is damaged
 * is an error naming it; nothing is guessed.
 */
export function pemBlocks(text: string): PemBlock[] {
  const lines = text.split(/\r\n?|\n/);
  const blocks: PemBlock[] = [];
  let open: { label: string; start: number } | undefined;
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!open) {
      const begin = BEGIN.exec(line);
      if (begin) open = { label: begin[1]!, start: i };
      continue;
    }
    if (line === `-----END ${open.label}-----`) {
      if (blocks.length >= MAX_PEM_BLOCKS) {
        throw new CredroamError(
          'E_PEM',
          `the text holds more than ${MAX_PEM_BLOCKS} PEM blocks; nothing was imported`,
        );
      }
      blocks.push(block(open.label, lines.slice(open.start, i + 1)));
      open = undefined;
    } else if (BEGIN.test(line) || line.startsWith('-----END ')) {
      // A block cut short by another: the first is damaged, the scan goes on from the new one.
      const begin = BEGIN.exec(line);
      open = begin ? { label: begin[1]!, start: i } : undefined;
    }
  }
  return blocks;
}

function block(label: string, lines: readonly string[]): PemBlock {
  const body = lines.slice(1, -1).map((l) => l.trim());
  const headerEnd = body.indexOf('');
  const hasHeaders = body[0]?.includes(':') === true;
  const base64 = (hasHeaders && headerEnd >= 0 ? body.slice(headerEnd + 1) : body).join('\n');
  if (!BASE64.test(base64)) {
    throw new CredroamError('E_PEM', `the ${label} block's base64 is damaged; nothing was imported`, {
      label,
    });
  }
  return {
    label,
    text: `${lines.map((l) => l.trim()).join('\n')}\n`,
    der: new Uint8Array(Buffer.from(base64, 'base64')),
  };
}

export const looksLikePem = (data: Uint8Array): boolean =>
  Buffer.from(data.subarray(0, 64 * 1024))
    .toString('latin1')
    .includes('-----BEGIN ');
