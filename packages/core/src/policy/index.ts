/**
 * `@credroam/core/policy`: the site policy a composition root loads (its model, the roots, the
 * bundle in force and its update), without the CMS library: a bundle's signature is verified by a
 * module loaded when one is. Everything here is also exported by `@credroam/core`.
 */
export type { AllowListEntry, PluginAllowList } from './allow-list.js';
export * from './bundle/roots.js';
export * from './bundle/site-policy.js';
export { hashPluginFiles } from './plugin-files.js';
export {
  DEFAULT_DIRECTORY_POLICY,
  DEFAULT_ROAMING_POLICY,
  type DirectoryPolicy,
  parseRoamingPolicy,
  parseSitePolicy,
  ROAMING_POLICY_SCHEMA,
  type RoamingPolicy,
  SITE_POLICY_SCHEMA,
  type SitePolicy,
} from './policy.js';
