import { describe, expect, it } from 'vitest';
import { bookAck } from './nemesis-checks.js';

describe('bookAck', () => {
  it('names the append an LSN was acknowledged as before, when a later one differs', () => {
    const acked: number[] = [];
    expect(bookAck(acked, 5, 4)).toBeUndefined();
    expect(bookAck(acked, 5, 4)).toBeUndefined();
    expect(bookAck(acked, 5, 9)).toBe(4);
    expect(acked[5]).toBe(9);
  });
});
