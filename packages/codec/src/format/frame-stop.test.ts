import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { FrameRunStop } from './frame-run.js';
import { FrameStop } from './frame-stop.js';

/** `NAME = value` pairs of the `walnut_walk_stop` enum in native/frame_walk.h. */
function nativeStopCodes(): Record<string, number> {
  const header = readFileSync(new URL('../../native/frame_walk.h', import.meta.url), 'utf8');
  const body = /enum walnut_walk_stop \{([^}]*)\}/.exec(header)?.[1] ?? '';
  return Object.fromEntries(
    [...body.matchAll(/WALK_(\w+) = (\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
  );
}

it('holds the values the native frame walk returns, name for name', () => {
  expect(nativeStopCodes()).toEqual({ ...FrameStop });
});

it('gives verifyFrameRun a subset of the same codes', () => {
  for (const [name, value] of Object.entries(FrameRunStop))
    expect(FrameStop[name as keyof typeof FrameStop]).toBe(value);
});
