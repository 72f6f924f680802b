import { describe, expect, it } from 'vitest';
import { ChainTip } from './chain-tip.js';

describe('ChainTip', () => {
  it('names the message followed, and expects no id once, right after the server forgot it', () => {
    const tip = new ChainTip('marker', null);
    expect([tip.lastId, tip.prev]).toEqual(['marker', 0]);
    tip.follow('m:5', 0xabc);
    expect([tip.lastId, tip.prev]).toEqual(['m:5', 0xabc]);
    tip.forgot(5);
    expect(tip.expectedId(7, 'm:6')).toBe('m:6');
    expect(tip.expectedId(6, 'm:5')).toBeNull();
    expect(tip.expectedId(6, 'm:5')).toBe('m:5');
  });
});
