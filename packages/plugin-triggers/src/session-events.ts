import {
  type Disposable,
  type Trigger,
  type TriggerEvent,
  type TriggerEventName,
  toDisposable,
} from '@credroam/core/api';
import dbus from 'dbus-next';

export interface SessionEventsOptions {
  /** D-Bus address of the bus logind is on; default: the system bus. */
  readonly busAddress?: string;
  /** The logind session to follow (its object path); default: from $XDG_SESSION_ID, else every session. */
  readonly sessionPath?: string;
}

const LOGIN1 = 'org.freedesktop.login1';

/** logind's object path for a session id (the id's bytes escaped as D-Bus object paths require). */
export function sessionPathFor(id: string): string {
  const escaped = [...Buffer.from(id, 'utf8')]
    .map((b, i) =>
      /[A-Za-z0-9]/.test(String.fromCharCode(b)) && !(i === 0 && /[0-9]/.test(String.fromCharCode(b)))
        ? String.fromCharCode(b)
        : `_${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
  return `/org/freedesktop/login1/session/${escaped}`;
}

/**
 * Session events from logind over D-Bus: `Lock` and `Unlock` of this session, `SessionNew` and
 * `SessionRemoved` (logon, logoff), and `PrepareForSleep(false)` (resume).
 */
export class SessionEvents implements Trigger {
  constructor(private readonly options: SessionEventsOptions) {}

  async start(fire: (event: TriggerEvent) => void): Promise<Disposable> {
    const bus = this.options.busAddress
      ? dbus.sessionBus({ busAddress: this.options.busAddress })
      : dbus.systemBus();
    const session = this.options.sessionPath;
    const emit = (name: TriggerEventName) => fire({ name, source: 'session', at: Date.now() });
    bus.on('message', (msg: dbus.Message) => {
      if (msg.type !== dbus.MessageType.SIGNAL) return;
      if (msg.interface === `${LOGIN1}.Session` && (session === undefined || msg.path === session)) {
        if (msg.member === 'Lock') emit('lock');
        else if (msg.member === 'Unlock') emit('unlock');
      } else if (msg.interface === `${LOGIN1}.Manager`) {
        const path = msg.body?.[1] as string | undefined;
        const ours = session === undefined || path === session;
        if (msg.member === 'SessionNew' && ours) emit('logon');
        else if (msg.member === 'SessionRemoved' && ours) emit('logoff');
        else if (msg.member === 'PrepareForSleep' && msg.body?.[0] === false) emit('resume');
      }
    });
    const match = async (rule: string) =>
      bus.call(
        new dbus.Message({
          destination: 'org.freedesktop.DBus',
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'AddMatch',
          signature: 's',
          body: [rule],
        }),
      );
    await match(`type='signal',interface='${LOGIN1}.Session'`);
    await match(`type='signal',interface='${LOGIN1}.Manager'`);
    return toDisposable(() => bus.disconnect());
  }
}
