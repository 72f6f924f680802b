import { WalError, WalErrorCode } from '@walnut/codec';

type Vitest = typeof import('vitest');
// Importing vitest outside its runner throws; loaded lazily, this module can be imported
// anywhere (a bundler's scan, a REPL, a plain script) and only running the suite needs vitest.
const loaded: Vitest | Error = await import('vitest').catch((error: unknown) =>
  error instanceof Error ? error : new Error(String(error)),
);

function vitest(): Vitest {
  if (loaded instanceof Error) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `the StorageIo conformance suite runs inside vitest (>= 3.2.4): call runStorageIoConformance() from a test file that \`vitest run\` executes (${loaded.message.split('\n')[0]})`,
      { cause: loaded },
    );
  }
  return loaded;
}

/** Vitest's `name` (callable, and with its properties such as `expect.fail`), looked up when used. */
function lazy<K extends 'describe' | 'it' | 'expect' | 'beforeEach' | 'afterEach'>(
  name: K,
): Vitest[K] {
  const target = (() => undefined) as unknown as Vitest[K];
  return new Proxy(target, {
    apply: (_target, thisArg, args) =>
      Reflect.apply(vitest()[name] as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, property) => Reflect.get(vitest()[name] as object, property),
  });
}

export const describe = lazy('describe');
export const it = lazy('it');
export const expect = lazy('expect');
export const beforeEach = lazy('beforeEach');
export const afterEach = lazy('afterEach');
