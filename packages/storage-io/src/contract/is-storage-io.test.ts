import { describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { isStorageIo, missingStorageIoMethod } from './is-storage-io.js';

describe('isStorageIo', () => {
  it('is true of a backend, whose methods sit on its prototype', () => {
    const io = new MemoryStorageIo();
    expect(isStorageIo(io)).toBe(true);
    expect(missingStorageIoMethod(io)).toBeNull();
  });

  it('names the first method an object lacks, so a message can say which', () => {
    const io = new MemoryStorageIo();
    const partial = Object.assign(Object.create(io), { submitWriteback: undefined });
    expect(missingStorageIoMethod(partial)).toBe('submitWriteback');
    expect(isStorageIo(partial)).toBe(false);
    expect(missingStorageIoMethod({ submitWrite() {} })).toBe('close');
  });

  it('is false of what is not an object', () => {
    for (const value of [null, undefined, 'memory', 42]) expect(isStorageIo(value)).toBe(false);
  });
});
