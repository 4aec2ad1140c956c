import { CredroamError } from '../api/errors.js';

/**
 * Runs `work` with a deadline. A result that arrives late is ignored (`onLate` lets the caller
 * clean it up). The timer is cleared as soon as the work settles.
 */
export async function withTimeout<T>(
  work: () => T | Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const running = Promise.resolve().then(work);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new CredroamError('E_TIMEOUT', `${what} did not finish within ${ms} ms`, { timeoutMs: ms }));
    }, ms);
  });
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
    if (timedOut && onLate) running.then(onLate, () => undefined);
  }
}
