import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

const bytes = (n: number) => Uint8Array.of(n);

describe('GroupCommit', () => {
  it('commits the calls made in one turn of the event loop as one round, in call order', async () => {
    const rounds: number[][] = [];
    const group = new GroupCommit((payloads) => rounds.push(payloads.map((p) => p[0]!)));
    await Promise.all([group.add(bytes(1)), group.add(bytes(2)), group.add(bytes(3))]);
    await group.add(bytes(4));
    expect(rounds).toEqual([[1, 2, 3], [4]]);
  });

  it('rejects every call of a round whose commit throws, and the next round goes on', async () => {
    let fail = true;
    const group = new GroupCommit(() => {
      if (fail) throw new Error('disk full');
    });
    const results = await Promise.allSettled([group.add(bytes(1)), group.add(bytes(2))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(group.add(bytes(3))).resolves.toBeUndefined();
  });
});
