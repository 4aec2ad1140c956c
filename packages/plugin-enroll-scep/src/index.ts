import { type ContributionRequest, Enroller, type PluginContext } from '@credroam/core/api';
import { ScepEnroller } from './enroller.js';
import { scepSettings } from './settings.js';

export { ScepEnroller } from './enroller.js';
export { SCEP_SETTINGS_SCHEMA, type ScepSettings, scepSettings } from './settings.js';
export { SCEP_REPLY_MAX_BYTES } from './transport.js';

/** The `scep` enroller for a contribution request, as the agent makes it (settings checked here). */
export function scepEnroller(request: Pick<ContributionRequest, 'settings'>): ScepEnroller {
  return new ScepEnroller(scepSettings(request.settings));
}

export function activate(context: PluginContext): void {
  context.contribute(Enroller, 'scep', scepEnroller);
}
