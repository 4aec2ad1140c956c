import { type ContributionRequest, type PluginContext, PolicySource } from '@credroam/core/api';
import { HttpsPolicySource } from './https-policy-source.js';
import { httpsPolicySettings } from './settings.js';

export { HttpsPolicySource } from './https-policy-source.js';
export { HTTPS_POLICY_SETTINGS_SCHEMA, type HttpsPolicySettings, httpsPolicySettings } from './settings.js';

/** The `https` policy source for a contribution request, as the agent makes it (settings checked here). */
export function httpsPolicySource(request: Pick<ContributionRequest, 'settings'>): HttpsPolicySource {
  return new HttpsPolicySource(httpsPolicySettings(request.settings));
}

export function activate(context: PluginContext): void {
  context.contribute(PolicySource, 'https', httpsPolicySource);
}
