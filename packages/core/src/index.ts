import 'reflect-metadata';

export * from './api/index.js';
export { FolderDirectoryStore, folderFromUrl, userFolderName } from './builtin/folder/folder-directory.js';
export { FOLDER_POLICY_FILE, FolderPolicySource } from './builtin/folder/folder-policy-source.js';
export * from './engine/index.js';
export * from './enroll/index.js';
export * from './host/index.js';
export { checkInjection } from './host/injection-check.js';
export * from './kit/index.js';
export * from './policy/bundle/index.js';
export * from './policy/index.js';
