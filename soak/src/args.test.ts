import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';

const parse = (...argv: string[]) => parseArgs(argv, () => 7);

describe('the soak command line', () => {
  it("draws the nemesis's faults from every kind unless told", () => {
    expect(parse('--replication', '300').replicationKinds).toBeUndefined();
  });

  it('takes a list of fault kinds', () => {
    expect(
      parse('--replication-kinds', 'kill-leader,promote-partitioned').replicationKinds,
    ).toEqual(['kill-leader', 'promote-partitioned']);
  });

  it('refuses a kind the nemesis does not have, naming the ones it has', () => {
    expect(() => parse('--replication-kinds=kill-leader,unplug')).toThrow(
      /--replication-kinds needs a comma-separated list of .*power-loss.*, got kill-leader,unplug/,
    );
  });
});
