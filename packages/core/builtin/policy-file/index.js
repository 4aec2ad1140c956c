// The manifest beside this file is a real plugin manifest; the code is compiled with core.
export * from '../../dist/src/builtin/policy-file/plugin.js';
