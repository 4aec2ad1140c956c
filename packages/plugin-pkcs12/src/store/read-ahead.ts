/** How many tasks start between two turns of the event loop. */
export const TASKS_PER_TURN = 64;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Starts `tasks` in order, at most `limit` at a time, and returns their promises in the same
 * order. A caller that awaits them one by one sees each result (or error) exactly where a
 * sequential loop would, while tasks that wait (a key's decryption) overlap. The store's file
 * reads are synchronous and parsing is too, so most tasks finish at once: without a pause they
 * would run one after another with no turn of the event loop in between (a listing of 2 000
 * certificates, about 0.5 s). Every `TASKS_PER_TURN` tasks, the next waits for a turn, so an agent
 * answers its socket while it lists a large store. A rejection is the caller's to see when it
 * awaits that promise; none is reported as unhandled before then.
 */
export function readAhead<T>(tasks: readonly (() => Promise<T>)[], limit = 32): Promise<T>[] {
  const settle: { resolve: (value: T) => void; reject: (error: unknown) => void }[] = [];
  const results = tasks.map(
    () =>
      new Promise<T>((resolve, reject) => {
        settle.push({ resolve, reject });
      }),
  );
  for (const r of results) r.catch(() => undefined);
  void (async () => {
    let running = 0;
    let freed: (() => void) | undefined;
    for (const [i, task] of tasks.entries()) {
      if (i > 0 && i % TASKS_PER_TURN === 0) await nextTurn();
      while (running >= limit) await new Promise<void>((resolve) => (freed = resolve));
      running++;
      const { resolve, reject } = settle[i]!;
      // A task that throws before its first await rejects its own promise, like one that rejects.
      Promise.resolve()
        .then(task)
        .then(resolve, reject)
        .finally(() => {
          running--;
          freed?.();
          freed = undefined;
        });
    }
  })();
  return results;
}
