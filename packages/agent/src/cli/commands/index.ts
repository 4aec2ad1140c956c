export { agent, trigger } from './agent.js';
export { doctor } from './doctor.js';
export { init } from './init.js';
export { list, status } from './inventory.js';
export { exportCredential, importCredential, remove } from './manage.js';
export { passwd, recover } from './passwords.js';
export { plugins } from './plugins.js';
export { type Args, type Context, roamingPassword } from './shared.js';
export { logoff, logon, sync } from './sync.js';
