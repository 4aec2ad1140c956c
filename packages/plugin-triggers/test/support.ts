export * from '../src/testing/bus.js';
