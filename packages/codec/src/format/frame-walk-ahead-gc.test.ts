import { readdirSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { encodeLog } from '../../test/arbitraries.js';
import { codecAddon, crc32cImplementation } from '../crc/crc32c.js';
import { FrameWalkAhead } from './frame-walk-ahead.js';

// Forces full collections: the flag is set here (vitest's worker options are global to the
// workspace) and a fresh context picks up the `gc` function it exposes.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const threads = () => readdirSync('/proc/self/task').length;

const noAddon =
  codecAddon === null ? ` (skipped: the addon is not loaded — ${crc32cImplementation.reason})` : '';

describe.skipIf(codecAddon === null)(`FrameWalkAhead and the garbage collector${noAddon}`, () => {
  it('ends its thread when the garbage collector takes it unclosed, a walk queued or not', async () => {
    const { buf } = encodeLog({ firstLsn: 1n, items: [{ kind: 'padding', size: 4 }] });
    const before = threads();
    (() => {
      for (let i = 0; i < 20; i++) {
        const walker = FrameWalkAhead.create()!;
        walker.start(buf, 0, buf.length, 1024, new Uint32Array(8));
        if (i % 2 === 0) walker.finish(new Float64Array(2));
      }
    })();
    expect(threads()).toBeGreaterThanOrEqual(before + 20);
    for (let i = 0; i < 50 && threads() >= before + 5; i++) {
      gc();
      await tick();
    }
    // A few threads of the runtime's own may start meanwhile; twenty walkers' may not stay.
    expect(threads()).toBeLessThan(before + 5);
  });
});
