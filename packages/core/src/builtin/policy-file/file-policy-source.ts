import { CredroamError } from '../../api/errors.js';
import type { PolicySource } from '../../api/extension-points.js';
import { RefusedFileError, readFileNoFollow } from '../../fs/atomic-file.js';

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
      // The codes every source uses (docs/admin/policy-sources.md): too large is E_POLICY_TOO_LARGE,
      // a file that cannot be handed over as it is (a link, a folder, unreadable) E_POLICY_SOURCE.
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ELOOP' ? 'is a link (not followed)' : (error as Error).message;
      throw new CredroamError(
        error instanceof RefusedFileError && error.reason === 'too-large'
          ? 'E_POLICY_TOO_LARGE'
          : 'E_POLICY_SOURCE',
        `the policy bundle file ${this.file} cannot be used: ${why}`,
        { file: this.file },
      );
    }
  }
}
