import test from 'ava';
import {
  EVENT_RANGES,
  EVENTS,
  EventId,
  EventLog,
  type EventName,
  isEventId,
  type LogRecord,
} from '../../src/index.js';

const kinds = Object.entries(EVENTS) as Array<[EventName, (typeof EVENTS)[EventName]]>;

test('every kind of event has its own id', (t) => {
  const byId = new Map<number, string[]>();
  for (const [name, kind] of kinds) byId.set(kind.id, [...(byId.get(kind.id) ?? []), name]);
  const shared = [...byId].filter(([, names]) => names.length > 1);
  t.deepEqual(shared, [], 'ids used by more than one kind');
});

test('EventId names the id of each kind in the table, and nothing else', (t) => {
  t.deepEqual(Object.keys(EventId).sort(), Object.keys(EVENTS).sort());
  for (const [name, kind] of kinds) t.is(EventId[name], kind.id, name);
  t.true(Object.isFrozen(EventId));
});

test('every id lies in exactly one range, and the ranges do not overlap', (t) => {
  for (const [name, kind] of kinds) {
    const ranges = EVENT_RANGES.filter((r) => r.from <= kind.id && kind.id <= r.to);
    t.is(ranges.length, 1, `${name} (${kind.id}) lies in ${ranges.length} ranges`);
  }
  const sorted = [...EVENT_RANGES].sort((a, b) => a.from - b.from);
  for (let i = 1; i < sorted.length; i++) {
    t.true(sorted[i - 1]!.to < sorted[i]!.from, `${sorted[i - 1]!.area} overlaps ${sorted[i]!.area}`);
  }
});

test('every kind has a level and a one-line meaning', (t) => {
  for (const [name, kind] of kinds) {
    t.true(kind.levels.length > 0, name);
    t.true(kind.meaning.length > 10 && !kind.meaning.includes('\n'), name);
    t.regex(kind.meaning, /\.$/, `${name}: a meaning is a sentence`);
  }
});

// The ids as published: a number keeps its name (and so its meaning) for good. A new kind adds a
// line here; changing or removing one fails.
const PUBLISHED: ReadonlyArray<readonly [number, EventName]> = [
  [1, 'SyncSucceeded'],
  [2, 'SyncUnchanged'],
  [3, 'SyncPlanned'],
  [4, 'SyncWaitingForLogon'],
  [101, 'TokenUploaded'],
  [102, 'TokenDownloaded'],
  [103, 'TokenRemovedLocally'],
  [104, 'TombstoneWritten'],
  [105, 'TokenArchived'],
  [106, 'TombstonePruned'],
  [107, 'DuplicateValuesResolved'],
  [108, 'ValueReasserted'],
  [109, 'CompareAndSwapRetried'],
  [501, 'Conflict'],
  [1001, 'SyncFailed'],
  [1002, 'CompareAndSwapExhausted'],
  [1003, 'SyncRetryScheduled'],
  [1008, 'TooManyTokens'],
  [1011, 'TokenTooLarge'],
  [1012, 'TokenAuthenticationFailed'],
  [1013, 'TokenMalformed'],
  [1014, 'TokenUnknownKind'],
  [1015, 'TokenFromFuture'],
  [1016, 'TokenRolledBack'],
  [1017, 'TokenIdMismatch'],
  [1018, 'LocalItemUnreadable'],
  [1020, 'MasterKeyRestored'],
  [1021, 'WrappedKeySkipped'],
  [1022, 'WrappedKeyDiffers'],
  [1023, 'PasswordChangeRefused'],
  [1024, 'KeysRewrapped'],
  [1025, 'MasterKeyCreated'],
  [1026, 'KeysOpenedOffline'],
  [1030, 'DirectoryValueUnreadable'],
  [1031, 'DirectoryValueDuplicated'],
  [1032, 'StoreFolderRefused'],
  [1033, 'StoreModeRepaired'],
  [1040, 'PolicyRefreshFailed'],
  [2001, 'PluginActivated'],
  [2002, 'PluginDeactivated'],
  [2003, 'PluginActivationFailed'],
  [2004, 'PluginManifestInvalid'],
  [2005, 'PluginEngineIncompatible'],
  [2006, 'PluginDependencyFailed'],
  [2007, 'PluginDependencyCycle'],
  [2008, 'PluginDeactivationFailed'],
  [2009, 'PluginConfigurationInvalid'],
  [2100, 'PluginLog'],
  [2200, 'AgentStarted'],
  [2201, 'AgentStopped'],
  [2202, 'AgentStartFailed'],
  [2203, 'AgentAlreadyRunning'],
  [2204, 'AgentSocketTakenOver'],
  [2205, 'AgentSocketGone'],
  [2206, 'AgentTriggerUnavailable'],
  [2207, 'AgentTriggerFired'],
  [2208, 'AgentKeysOpened'],
  [2209, 'AgentKeysClosed'],
  [2211, 'AgentSyncEnded'],
  [2213, 'LoggedOff'],
];

test('a published id keeps its name: numbers are never reused or removed', (t) => {
  for (const [id, name] of PUBLISHED) t.is(EVENTS[name].id as number, id, `${id} ${name}`);
});

function recorder() {
  const records: LogRecord[] = [];
  const log = new EventLog({ write: () => undefined });
  log.subscribe((r) => records.push(r));
  return { log, records };
}

test("a plugin's free-form lines are PluginLog (2100), stamped with the plugin's id", (t) => {
  const { log, records } = recorder();
  const logger = log.scoped('example.vault');
  logger.info('vault ready', { mount: 'secret' });
  logger.error('vault sealed');
  t.like(records[0], { event: 2100, level: 'info', plugin: 'example.vault', mount: 'secret' });
  t.like(records[1], { event: 2100, level: 'error', plugin: 'example.vault' });
});

test("a plugin's event with an id from the table keeps it; any other number becomes PluginLog with pluginEvent", (t) => {
  const { log, records } = recorder();
  const logger = log.scoped('example.vault');
  logger.log('warn', EventId.StoreModeRepaired, 'made owner-only', { path: '/x' });
  logger.log('warn', 4242, 'the vault token expires soon');
  t.like(records[0], { event: 1033, plugin: 'example.vault', path: '/x' });
  t.false('pluginEvent' in records[0]!);
  t.like(records[1], { event: 2100, level: 'warn', plugin: 'example.vault', pluginEvent: 4242 });
  t.true(isEventId(1033));
  t.false(isEventId(4242));
});

test('each line of the event log is one JSON line holding no character a terminal or a viewer acts on: C1 and bidi controls and line separators are written as \\u escapes, the same text for a reader', (t) => {
  const lines: string[] = [];
  const log = new EventLog({ write: (line) => lines.push(line) });
  // A store file's name (another program chose it), as the event that repairs its mode carries it.
  const name = 'certs/x\u001b[2J\nOK\u009b31m\u0085\u2028\u2029\u202eevil\u2066';
  log.log('warn', EventId.StoreModeRepaired, `${name} was mode 0644: made owner-only (0600)`, { path: name });
  t.is(lines.length, 1);
  const line = lines[0]!;
  t.true(line.endsWith('}\n'));
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  t.notRegex(line.slice(0, -1), /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  const record = JSON.parse(line) as LogRecord & { path: string };
  t.is(record.path, name);
  t.is(record.message, `${name} was mode 0644: made owner-only (0600)`);
});
