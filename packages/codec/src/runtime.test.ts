import { afterEach, describe, expect, it, vi } from 'vitest';
import { currentRuntime, isDenoPermissionError, readEnv, runtimeLabel } from './runtime.js';

afterEach(() => {
  vi.unstubAllGlobals();
  delete (process.versions as Record<string, string>).bun;
});

function pretendDeno(): void {
  vi.stubGlobal('Deno', { version: { deno: '2.9.6' } });
}

describe('the runtime', () => {
  it('is Node where neither Bun nor Deno says otherwise', () => {
    expect(currentRuntime()).toEqual({ name: 'node', version: process.versions.node });
    expect(runtimeLabel()).toBe(`Node ${process.versions.node}`);
  });

  it('is Bun when process.versions names bun, although it also names a Node version', () => {
    (process.versions as Record<string, string>).bun = '1.4.5';
    expect(currentRuntime()).toEqual({ name: 'bun', version: '1.4.5' });
    expect(runtimeLabel()).toBe('Bun 1.4.5');
  });

  it('is Deno when the Deno global exists', () => {
    pretendDeno();
    expect(runtimeLabel()).toBe('Deno 2.9.6');
  });
});

describe('readEnv', () => {
  it('reads a variable', () => {
    process.env.WALNUT_RUNTIME_TEST = 'yes';
    expect(readEnv('WALNUT_RUNTIME_TEST')).toBe('yes');
    delete process.env.WALNUT_RUNTIME_TEST;
    expect(readEnv('WALNUT_RUNTIME_TEST')).toBeUndefined();
  });

  it('takes a variable the runtime refuses to show as unset (Deno without --allow-env)', () => {
    const denied = new Proxy(
      {},
      {
        get() {
          throw Object.assign(new Error('Requires env access'), { name: 'NotCapable' });
        },
      },
    );
    vi.stubGlobal('process', { ...process, env: denied });
    expect(readEnv('WALNUT_NATIVE')).toBeUndefined();
  });
});

describe('isDenoPermissionError', () => {
  const refusal = Object.assign(new Error('Requires ffi access to "x.node"'), {
    name: 'NotCapable',
  });

  it("is true for Deno's refusal on Deno", () => {
    pretendDeno();
    expect(isDenoPermissionError(refusal)).toBe(true);
    expect(isDenoPermissionError(new Error('ELF class mismatch'))).toBe(false);
  });

  it('is false elsewhere, whatever the error is called', () => {
    expect(isDenoPermissionError(refusal)).toBe(false);
  });
});
