/**
 * The version of the plugin API (`@credroam/core/api`), a semantic version: a plugin's
 * `engines.credroam` range is checked against it, not against the version of core. A change to
 * the API report (packages/core/api-report.md) that removes or changes anything is a major bump
 * (while 0.x: a minor one); one that only adds is a minor (0.x: a patch). See
 * docs/decisions/015-plugin-api-contract.md.
 */
export const API_VERSION = '0.1.4';
