import type { Disposable } from '../disposable.js';
import { extensionPointToken } from './extension-point.js';

export type TriggerEventName =
  | 'logon'
  | 'logoff'
  | 'lock'
  | 'unlock'
  | 'resume'
  | 'policyRefresh'
  | 'storeChanged';

export interface TriggerEvent {
  readonly name: TriggerEventName;
  /** The trigger contribution that fired. */
  readonly source: string;
  readonly at: number;
}

/** Something that tells the agent when to act. `start` returns what stops it. */
export interface Trigger {
  start(fire: (event: TriggerEvent) => void): Promise<Disposable>;
}

export const Trigger = extensionPointToken<Trigger>('Trigger');
