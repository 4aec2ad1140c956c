/**
 * A test kit for credroam plugin authors (and credroam's own tests): in-memory stores, a test
 * protector, a fake content inspector for synthetic credentials, replicating in-memory directory
 * servers, and `makeEngine`, which composes a SyncEngine through the container as the agent does.
 * Not for production use.
 *
 * It loads reflect-metadata itself (before tsyringe, which the engine harness uses): an author's
 * test need not preload it.
 */

import 'reflect-metadata';

export * from './certificates.js';
export * from './engine-harness.js';
export * from './hostile-certificates.js';
export * from './memory-stores.js';
export * from './servers.js';
