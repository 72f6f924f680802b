import { describe, expect, it } from 'vitest';
import { expectWalError } from '../testing/index.js';
import { clockOption, pathOption } from './option-checks.js';

describe('clockOption', () => {
  it('takes a function returning ms since the epoch', () => {
    const clock = () => 1_700_000_000_000;
    expect(clockOption(clock, 'clock')).toBe(clock);
    expect(clockOption(Date.now, 'clock')).toBe(Date.now);
  });

  it.each([
    ['a string', () => 'now', 'it returned "now"'],
    ['NaN', () => Number.NaN, 'it returned NaN'],
    ['a negative time', () => -5, 'it returned -5'],
    ['a time past the safe integers', () => 2 ** 60, 'it returned'],
    ['a bigint', () => 5n, 'it returned'],
    ['nothing', () => undefined, 'it returned undefined'],
  ])('refuses a clock returning %s with WAL_BAD_ARGUMENT', (_, clock, said) => {
    const error = expectWalError(() => clockOption(clock, 'clock'), 'WAL_BAD_ARGUMENT');
    expect(error.message).toContain(said);
    expect(error.message).toContain('ms since the epoch');
  });

  it('refuses a clock that throws, saying what it threw', () => {
    const clock = () => {
      throw new Error('no time source');
    };
    const error = expectWalError(() => clockOption(clock, 'clock'), 'WAL_BAD_ARGUMENT');
    expect(error.message).toContain('clock threw when called (no time source)');
  });

  it('refuses what is not a function', () => {
    expectWalError(() => clockOption(1_700_000_000_000, 'clock'), 'WAL_BAD_ARGUMENT');
  });
});

const WINDOWS = process.platform === 'win32';

describe('pathOption', () => {
  it('takes a path string as it is, and a file: URL as the path it names', () => {
    expect(pathOption('/var/lib/log', 'dir')).toBe('/var/lib/log');
    expect(pathOption('relative/log', 'dir')).toBe('relative/log');
    const [url, path] = WINDOWS
      ? ['file:///C:/var/my%20log/', 'C:\\var\\my log\\']
      : ['file:///var/lib/my%20log/', '/var/lib/my log/'];
    expect(pathOption(new URL(url), 'dir')).toBe(path);
  });

  it.each([
    ['an empty string', ''],
    ['a string with a NUL byte', 'log\0x'],
    ['a number', 5],
    ['undefined', undefined],
    ['an http: URL', new URL('http://example.com/log')],
  ])('refuses %s with WAL_BAD_ARGUMENT under the name given', (_, value) => {
    const error = expectWalError(() => pathOption(value, 'config.dir'), 'WAL_BAD_ARGUMENT');
    expect(error.message).toContain('config.dir must be a non-empty path string or a file: URL');
  });

  it.runIf(WINDOWS)('takes a file: URL with a host as the share it names on Windows', () => {
    expect(pathOption(new URL('file://server/share/log'), 'dir')).toBe('\\\\server\\share\\log');
  });

  it.skipIf(WINDOWS)('refuses a file: URL with a host, which names no local path', () => {
    const error = expectWalError(
      () => pathOption(new URL('file://server/share/log'), 'dir'),
      'WAL_BAD_ARGUMENT',
    );
    expect(error.message).toContain('dir is a file: URL that names no local path');
  });
});
