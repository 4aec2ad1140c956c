/**
 * A test kit for credroam plugin authors (and credroam's own tests): a contract suite for each
 * extension point (the same tests the built-in implementations pass), a harness that activates a
 * plugin as the agent does, in-memory stores, a test protector, a fake content inspector for
 * synthetic credentials, replicating in-memory directory servers, and `makeEngine`, which composes
 * a SyncEngine through the container as the agent does. Not for production use.
 *
 * It loads reflect-metadata itself (before tsyringe, which the engine harness uses): an author's
 * test need not preload it.
 */

import 'reflect-metadata';

export * from './activation-harness.js';
export * from './certificates.js';
export * from './contracts/contract-test.js';
export * from './contracts/directory-store.js';
export * from './contracts/enroller.js';
export * from './contracts/local-store.js';
export * from './contracts/policy-source.js';
export * from './contracts/token-protector.js';
export * from './contracts/trigger.js';
export * from './credentials.js';
export * from './engine-harness.js';
export * from './enrollment.js';
export * from './hostile-certificates.js';
export * from './memory-stores.js';
export * from './netns.js';
export * from './servers.js';
