import { afterEach, describe, expect, it, vi } from 'vitest';
import { currentRuntime, isDenoPermissionError, readEnv, runtimeLabel } from './runtime.js';

afterEach(() => {
  vi.unstubAllGlobals();
});

const node = { node: '22.23.3', v8: '12.4' };
const deno = { Deno: { version: { deno: '2.9.6' } } };

describe('the runtime', () => {
  it('is Node where neither Bun nor Deno says otherwise', () => {
    expect(currentRuntime(node, {})).toEqual({ name: 'node', version: '22.23.3' });
    expect(runtimeLabel(currentRuntime(node, {}))).toBe('Node 22.23.3');
  });

  it('is Bun when process.versions names bun, although it also names a Node version', () => {
    const bun = currentRuntime({ ...node, bun: '1.4.5' }, {});
    expect(bun).toEqual({ name: 'bun', version: '1.4.5' });
    expect(runtimeLabel(bun)).toBe('Bun 1.4.5');
  });

  it('is Deno when the Deno global exists, although process.versions names a Node version', () => {
    expect(runtimeLabel(currentRuntime(node, deno))).toBe('Deno 2.9.6');
  });

  it('is read from this process by default', () => {
    expect(currentRuntime().version).not.toBe('unknown');
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
  const onDeno = currentRuntime(node, deno);

  it("is true for Deno's refusal on Deno", () => {
    expect(isDenoPermissionError(refusal, onDeno)).toBe(true);
    expect(isDenoPermissionError(new Error('ELF class mismatch'), onDeno)).toBe(false);
  });

  it('is false elsewhere, whatever the error is called', () => {
    expect(isDenoPermissionError(refusal, currentRuntime(node, {}))).toBe(false);
  });
});
