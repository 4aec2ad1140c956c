/** Something that owns a resource and releases it when disposed. Disposing twice is harmless. */
export interface Disposable {
  dispose(): void | Promise<void>;
}

/**
 * Owns a list of disposables and disposes them in reverse order of addition (last acquired, first
 * released). Every disposable is disposed even when some throw; the errors are gathered into one
 * `AggregateError`. Anything added after the store was disposed is disposed at once.
 */
export class DisposableStore implements Disposable {
  readonly #items: Disposable[] = [];
  #disposed = false;

  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Adds items to the store; returns the first, so `const w = store.add(new Watcher())` reads well. */
  add<T extends Disposable>(item: T): T {
    if (this.#disposed) {
      void Promise.resolve()
        .then(() => item.dispose())
        .catch(() => undefined);
      return item;
    }
    this.#items.push(item);
    return item;
  }

  /** VS Code's `context.subscriptions.push(...)` spelling. */
  push(...items: Disposable[]): number {
    for (const item of items) this.add(item);
    return this.#items.length;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const errors: unknown[] = [];
    while (this.#items.length > 0) {
      const item = this.#items.pop()!;
      try {
        await item.dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} disposables failed`);
  }
}

/** A disposable from a function. */
export function toDisposable(fn: () => void | Promise<void>): Disposable {
  let done = false;
  return {
    dispose() {
      if (done) return;
      done = true;
      return fn();
    },
  };
}
