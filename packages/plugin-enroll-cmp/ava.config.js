// Until the workspace's ava.config.js lists this package (one line in its `packages`), run its
// tests with the workspace's settings: `node scripts/run-tests.mjs --config packages/plugin-enroll-cmp/ava.config.js`.
import workspace from '../../ava.config.js';

const pkg = 'packages/plugin-enroll-cmp/';

export default {
  ...workspace,
  files: [`${pkg}test/**/*.test.ts`],
  typescript: { rewritePaths: { [pkg]: `${pkg}dist/` }, compile: false },
};
