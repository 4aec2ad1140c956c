import type { DependencyContainer, InjectionToken } from 'tsyringe';

type Constructor = abstract new (...args: never[]) => unknown;

// tsyringe keeps `@inject(token)` parameters under this metadata key (tsyringe/src/reflection-helpers.ts).
const INJECTION_TOKENS = 'injectionTokens';
const PRIMITIVES = new Set<unknown>([
  Object,
  String,
  Number,
  Boolean,
  Symbol,
  Array,
  Function,
  Promise,
  undefined,
]);

/**
 * Checks that `container` can build every class in `classes` with all constructor parameters
 * filled. This is what fails loudly when code was compiled by a transpiler that does not emit
 * decorator metadata (esbuild, tsx, vitest): tsyringe would otherwise pass `undefined` silently.
 * Returns one problem per bad parameter, naming the class and the parameter's position.
 */
export function checkInjection(container: DependencyContainer, classes: readonly Constructor[]): string[] {
  const problems: string[] = [];
  for (const cls of classes) {
    const name = cls.name || '(anonymous class)';
    const paramTypes = Reflect.getMetadata('design:paramtypes', cls) as unknown[] | undefined;
    const injected = (Reflect.getOwnMetadata(INJECTION_TOKENS, cls) ?? {}) as Record<number, unknown>;
    if (cls.length > 0 && paramTypes === undefined) {
      problems.push(
        `${name}: no constructor type metadata; compile with tsc (emitDecoratorMetadata), not a transpiler that drops it`,
      );
      continue;
    }
    const count = Math.max(cls.length, paramTypes?.length ?? 0);
    for (let i = 0; i < count; i++) {
      const descriptor = injected[i] as { token?: unknown; isOptional?: boolean } | undefined;
      if (descriptor?.isOptional) continue;
      const token = descriptor !== undefined ? descriptor.token : paramTypes?.[i];
      const label = `${name} constructor parameter ${i}`;
      if (PRIMITIVES.has(token)) {
        problems.push(`${label} is typed ${describe(token)}: an interface or primitive needs @inject(token)`);
        continue;
      }
      const resolvable =
        container.isRegistered(token as InjectionToken, true) ||
        (typeof token === 'function' && Reflect.getMetadata('design:paramtypes', token) !== undefined) ||
        (typeof token === 'function' && token.length === 0);
      if (!resolvable) problems.push(`${label}: nothing is registered for ${describe(token)}`);
    }
  }
  return problems;
}

function describe(token: unknown): string {
  if (typeof token === 'function') return token.name || 'a function';
  if (typeof token === 'symbol') return token.description ?? 'a symbol';
  return String(token);
}
