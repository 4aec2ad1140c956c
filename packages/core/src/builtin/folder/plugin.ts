import { DirectoryStore, type PluginContext } from '../../api/index.js';
import { FolderDirectoryStore, folderFromUrl } from './folder-directory.js';

/**
 * The built-in folder directory plugin, loaded through its manifest like any third-party plugin.
 * Settings of the contribution: `url`, a `file:` URL of the root folder.
 */
export function activate(context: PluginContext): void {
  context.contribute(DirectoryStore, 'folder', ({ user, settings }) => {
    return new FolderDirectoryStore(folderFromUrl(settings.url), user);
  });
}
