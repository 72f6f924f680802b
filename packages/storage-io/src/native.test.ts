import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNativeFrom } from './native.js';

describe("storage-io's addon", () => {
  it('is refused, with the reason, when the binary found is another addon', () => {
    // The codec's addon stands in for any other: an application's, found by a bundle.
    const codec = dirname(createRequire(import.meta.url).resolve('@walnut/codec/package.json'));
    const load = loadNativeFrom(codec);
    expect(load.binding).toBeNull();
    expect(load.reason).toContain(
      "(it lacks createRing(), probe(), flock(), holdFd(), releaseHeldFd(), fallocate(), syncFileRangeWrite(), allocAligned(): it is not @walnut/storage-io's addon); I/O runs on sync-fs",
    );
  });
});
