export { type ScepServer, startScepServer } from './scep-server.js';
