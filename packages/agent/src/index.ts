export { type CliIo, ExitCode } from './cli/io.js';
export { main } from './cli/main.js';
export { type AgentConfig, FIRST_PARTY_PLUGINS, loadConfig, type Selection } from './config.js';
