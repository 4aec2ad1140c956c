import { CredroamError } from '../../api/errors.js';
import type { PolicySource } from '../../api/extension-points.js';
import { readFileNoFollow } from '../../fs/atomic-file.js';

/**
 * A policy bundle in a file: its bytes, or `undefined` when there is no file. A link at the name is
 * refused, not followed; anything but a regular file, or a file over `maxBytes`, is an error. What
 * the bytes say is for the verifier: a file source trusts nothing in them.
 */
export class FilePolicySource implements PolicySource {
  constructor(
    private readonly file: string,
    private readonly maxBytes: number,
  ) {}

  async fetch(): Promise<Uint8Array | undefined> {
    try {
      const data = await readFileNoFollow(this.file, { maxBytes: this.maxBytes });
      return data ? new Uint8Array(data) : undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ELOOP' ? 'is a link (not followed)' : (error as Error).message;
      throw new CredroamError(
        'E_POLICY_FORMAT',
        `the policy bundle file ${this.file} cannot be used: ${why}`,
        {
          file: this.file,
        },
      );
    }
  }
}
