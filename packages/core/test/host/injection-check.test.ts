import test from 'ava';
import { container, inject, injectable } from 'tsyringe';
import { checkInjection, type Logger, LoggerToken } from '../../src/index.js';

@injectable()
class Clock {
  now(): number {
    return 0;
  }
}

@injectable()
class Engine {
  constructor(
    readonly clock: Clock,
    @inject(LoggerToken) readonly log: Logger,
  ) {}
}

// What esbuild/tsx make of `@injectable() class Engine { constructor(clock: Clock, ...) }`:
// a class with the same constructor and no design:paramtypes metadata.
class TranspiledEngine {
  constructor(
    readonly clock: Clock,
    readonly log: Logger,
  ) {}
}

@injectable()
class NeedsInterface {
  constructor(readonly log: Logger) {}
}

test('tsc-compiled classes with every parameter resolvable pass', (t) => {
  const c = container.createChildContainer();
  c.register(LoggerToken, { useValue: {} as Logger });
  t.deepEqual(checkInjection(c, [Clock, Engine]), []);
  t.true(c.resolve(Engine).clock instanceof Clock);
});

test('a class compiled without decorator metadata is reported', (t) => {
  const c = container.createChildContainer();
  t.deepEqual(checkInjection(c, [TranspiledEngine]), [
    'TranspiledEngine: no constructor type metadata; compile with tsc (emitDecoratorMetadata), not a transpiler that drops it',
  ]);
});

test('an interface-typed parameter without @inject, and an unregistered token, are reported', (t) => {
  const c = container.createChildContainer();
  t.deepEqual(checkInjection(c, [NeedsInterface, Engine]), [
    'NeedsInterface constructor parameter 0 is typed Object: an interface or primitive needs @inject(token)',
    'Engine constructor parameter 1: nothing is registered for credroam.Logger',
  ]);
});
