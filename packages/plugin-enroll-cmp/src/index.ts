import { type ContributionRequest, Enroller, type PluginContext } from '@credroam/core/api';
import { CmpEnroller } from './enroller.js';
import { cmpSettings } from './settings.js';

export { CmpEnroller } from './enroller.js';
export { CMP_SETTINGS_SCHEMA, type CmpSettings, cmpSettings } from './settings.js';

/** The `cmp` enroller for a contribution request, as the host makes it (settings checked here). */
export function cmpEnroller(request: Pick<ContributionRequest, 'settings'>): CmpEnroller {
  return new CmpEnroller(cmpSettings(request.settings));
}

export function activate(context: PluginContext): void {
  context.contribute(Enroller, 'cmp', cmpEnroller);
}
