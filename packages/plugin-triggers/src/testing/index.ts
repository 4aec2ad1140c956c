/** Test helpers: a private dbus-daemon and dbus-send (Debian's), for tests of session events. */
export * from './bus.js';
