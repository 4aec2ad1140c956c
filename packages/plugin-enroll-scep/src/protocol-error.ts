import { type ErrorDetails, PluginError } from '@credroam/core/api';

/** This plugin's id, as errors name it. */
export const PLUGIN_ID = 'credroam.enroll-scep';

/**
 * A SCEP server's reply credroam cannot accept: not the structure RFC 8894 specifies, not signed
 * by the pinned CA (or its RA), not an answer to this request, or larger than the bound. API 0.1.2
 * has no code for a malformed enrollment reply (`E_ENROLL_REFUSED` is the CA saying no, which this
 * is not), so it is this plugin's own: `E_PLUGIN` with `pluginCode` `SCEP_PROTOCOL`.
 */
export const protocolError = (message: string, details: ErrorDetails = {}): PluginError =>
  new PluginError(PLUGIN_ID, 'SCEP_PROTOCOL', message, details);
