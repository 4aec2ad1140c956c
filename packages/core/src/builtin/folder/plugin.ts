import { DirectoryStore, type PluginContext, PolicySource } from '../../api/index.js';
import { FolderDirectoryStore, folderFromUrl } from './folder-directory.js';
import { FolderPolicySource } from './folder-policy-source.js';

/**
 * The built-in folder directory plugin, loaded through its manifest like any third-party plugin.
 * Settings of either contribution: `url`, a `file:` URL of the root folder. The policy source
 * reads the site's signed bundle, `policy.p7b` in that root.
 */
export function activate(context: PluginContext): void {
  context.contribute(DirectoryStore, 'folder', ({ user, settings }) => {
    return new FolderDirectoryStore(folderFromUrl(settings.url), user);
  });
  context.contribute(
    PolicySource,
    'folder',
    ({ settings }) => new FolderPolicySource(folderFromUrl(settings.url)),
  );
}
