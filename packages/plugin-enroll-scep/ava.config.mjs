// The workspace's ava configuration with this package's tests added, until the root ava.config.js
// lists 'plugin-enroll-scep' (then this file goes): `node scripts/run-tests.mjs --config
// packages/plugin-enroll-scep/ava.config.mjs packages/plugin-enroll-scep/test/…`.
import base from '../../ava.config.js';

const pkg = 'packages/plugin-enroll-scep/';
export default {
  ...base,
  files: [...base.files, `${pkg}test/**/*.test.ts`],
  typescript: { ...base.typescript, rewritePaths: { ...base.typescript.rewritePaths, [pkg]: `${pkg}dist/` } },
};
