/**
 * Starts `tasks` in order, at most `limit` at a time, and returns their promises in the same
 * order. A caller that awaits them one by one sees each result (or error) exactly where a
 * sequential loop would, while the file calls behind them overlap: a listing of thousands of
 * small files waits on the thread pool `limit` calls at a time, not one. A rejection is the
 * caller's to see when it awaits that promise; none is reported as unhandled before then.
 */
export function readAhead<T>(tasks: readonly (() => Promise<T>)[], limit = 32): Promise<T>[] {
  let running = 0;
  const waiting: (() => void)[] = [];
  const acquire = (): Promise<void> => {
    if (running < limit) {
      running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return tasks.map((task) => {
    const result = acquire().then(task).finally(release);
    result.catch(() => undefined);
    return result;
  });
}
