import { CredroamError, type PluginContext, POLICY_BUNDLE_MAX_BYTES, PolicySource } from '@credroam/core/api';
import { readFileNoFollow } from '@credroam/core/kit';

/**
 * The site's signed policy bundle from a file (a share, a configuration-management drop): its
 * bytes as they are, `undefined` when there is no file. It never parses them: core verifies the
 * signature, the chain to the site's root, the site, the expiry and the serial. A link is not
 * followed; a file larger than `POLICY_BUNDLE_MAX_BYTES` is an error, never truncated.
 */
export class FilePolicySource implements PolicySource {
  constructor(readonly file: string) {}

  async fetch(): Promise<Uint8Array | undefined> {
    try {
      const data = await readFileNoFollow(this.file, { maxBytes: POLICY_BUNDLE_MAX_BYTES });
      return data ? new Uint8Array(data) : undefined;
    } catch (error) {
      throw new CredroamError(
        'E_POLICY_SOURCE',
        `the policy bundle ${this.file} cannot be used: ${(error as Error).message}`,
        {
          file: this.file,
        },
      );
    }
  }
}

export function activate(context: PluginContext): void {
  context.contribute(
    PolicySource,
    '__CONTRIBUTION__',
    ({ settings }) => new FilePolicySource(settings.file as string),
  );
}
