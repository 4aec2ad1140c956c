/**
 * Real OpenLDAP servers for tests and benchmarks (credroam's own, and a site's): see `startProviders`.
 * Needs Debian's `slapd` and `openssl`. Not for production use.
 */

export * from './fake-directory.js';
export * from './kdc.js';
export * from './samba.js';
export * from './slapd.js';
