import { EventId, isEventId, type Logger, type LogLevel, type LogRecord } from '../api/events.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface EventLogOptions {
  /** Where each JSON line goes; default: stderr (journald keeps it under systemd). */
  readonly write?: (line: string) => void;
  readonly level?: LogLevel;
  readonly now?: () => Date;
}

/**
 * The event log: one JSON object per line, each with a stable event id. Listeners see every record
 * (the CLI's reports and the tests read events from here rather than parsing text).
 */
export class EventLog implements Logger {
  readonly #write: (line: string) => void;
  readonly #minLevel: number;
  readonly #now: () => Date;
  readonly #listeners = new Set<(record: LogRecord) => void>();

  constructor(options: EventLogOptions = {}) {
    this.#write = options.write ?? ((line) => process.stderr.write(line));
    this.#minLevel = LEVELS[options.level ?? 'info'];
    this.#now = options.now ?? (() => new Date());
  }

  /** Calls `listener` for every record from now on; returns the function that stops it. */
  subscribe(listener: (record: LogRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  log(level: LogLevel, event: number, message: string, fields: Record<string, unknown> = {}): void {
    const record: LogRecord = { time: this.#now().toISOString(), level, event, message, ...fields };
    for (const listener of this.#listeners) listener(record);
    if (LEVELS[level] >= this.#minLevel) this.#write(`${jsonLine(record)}\n`);
  }

  /** Free text as `PluginLog` (2100); credroam's own code logs an id of its own with `log`. */
  debug(message: string, fields?: Record<string, unknown>): void {
    this.log('debug', EventId.PluginLog, message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.log('info', EventId.PluginLog, message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.log('warn', EventId.PluginLog, message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.log('error', EventId.PluginLog, message, fields);
  }

  /**
   * A plugin's logger: adds `plugin: id` to every record. An id outside the table of events (a
   * third-party plugin's own number) is logged as `PluginLog`, with that number in `pluginEvent`:
   * every id in the log is one that docs/admin/events.md explains.
   */
  scoped(pluginId: string): Logger {
    const log = (level: LogLevel, event: number, message: string, fields?: Record<string, unknown>) =>
      isEventId(event)
        ? this.log(level, event, message, { ...fields, plugin: pluginId })
        : this.log(level, EventId.PluginLog, message, { ...fields, plugin: pluginId, pluginEvent: event });
    return {
      log,
      debug: (m, f) => log('debug', EventId.PluginLog, m, f),
      info: (m, f) => log('info', EventId.PluginLog, m, f),
      warn: (m, f) => log('warn', EventId.PluginLog, m, f),
      error: (m, f) => log('error', EventId.PluginLog, m, f),
    };
  }
}

/**
 * A record as one JSON line. JSON.stringify escapes C0 controls only: C1 controls (U+0080–U+009F,
 * CSI among them), the line and paragraph separators and bidi controls, which a message or a field
 * may hold from outside (a file name in the store), are written as `\u` escapes too. A reader
 * parses the same text; a terminal or a viewer showing the log sees nothing it acts on.
 */
const jsonLine = (record: LogRecord): string =>
  JSON.stringify(record).replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
