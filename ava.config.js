// One ava configuration for the workspace: tests are TypeScript under packages/*/test,
// compiled by `tsc -b` (the only compiler that emits the decorator metadata tsyringe needs),
// and run from each package's dist/ folder.
const packages = [
  'core',
  'plugin-ldap',
  'plugin-pkcs12',
  'plugin-nss',
  'plugin-triggers',
  'plugin-policy-https',
  'plugin-enroll-cmp',
  'plugin-enroll-scep',
  'agent',
];

export default {
  // scripts/test: the workspace's own scripts (plain JavaScript, not compiled).
  files: [...packages.map((p) => `packages/${p}/test/**/*.test.ts`), 'scripts/test/*.test.mjs'],
  typescript: {
    rewritePaths: Object.fromEntries(packages.map((p) => [`packages/${p}/`, `packages/${p}/dist/`])),
    compile: false,
  },
  require: ['reflect-metadata'],
  timeout: '120s',
  workerThreads: false,
};
