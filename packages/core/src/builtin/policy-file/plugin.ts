import { CredroamError, type PluginContext, POLICY_BUNDLE_MAX_BYTES, PolicySource } from '../../api/index.js';
import { FilePolicySource } from './file-policy-source.js';

/**
 * The built-in policy source `file`: the signed bundle in a local file (the default way to
 * distribute one: configuration management drops it in a root-owned path). Setting: `path`.
 */
export function activate(context: PluginContext): void {
  context.contribute(PolicySource, 'file', ({ settings }) => {
    if (typeof settings.path !== 'string' || settings.path === '')
      throw new CredroamError('E_CONFIG', 'the file policy source needs settings.path, the bundle file');
    return new FilePolicySource(settings.path, POLICY_BUNDLE_MAX_BYTES);
  });
}
