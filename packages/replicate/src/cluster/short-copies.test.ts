import { describe, expect, it } from 'vitest';
import { ShortCopies } from './short-copies.js';

const servers = ['n1', 'n2', 'n3'];
const led = (leader: string) => ({
  leader,
  servers: [leader, ...servers.filter((s) => s !== leader)],
});

describe('the servers found serving a stream short', () => {
  it('steps each leader down until every server has served the stream short, then re-seeds', () => {
    const short = new ShortCopies();
    expect(short.tryAnother(led('n1'))).toBe(true);
    expect(short.tryAnother(led('n2'))).toBe(true);
    expect(short.tryAnother(led('n3'))).toBe(false);
  });

  it('steps a leader found short again down again, while another server has had no turn', () => {
    const short = new ShortCopies();
    expect(short.tryAnother(led('n1'))).toBe(true);
    expect(short.tryAnother(led('n1'))).toBe(true);
    expect(short.tryAnother(led('n2'))).toBe(true);
  });

  it('re-seeds once the step-downs are spent, two per server, though a server never led', () => {
    const short = new ShortCopies();
    const answers = Array.from({ length: 7 }, (_, i) => short.tryAnother(led(i % 2 ? 'n1' : 'n2')));
    expect(answers).toEqual([true, true, true, true, true, true, false]);
  });

  it('re-seeds at once a stream only one server holds', () => {
    expect(new ShortCopies().tryAnother({ leader: 'n1', servers: ['n1'] })).toBe(false);
  });

  it('starts over once the episode ends', () => {
    const short = new ShortCopies();
    short.tryAnother(led('n1'));
    short.tryAnother(led('n2'));
    short.reset();
    expect(short.tryAnother(led('n3'))).toBe(true);
    expect(short.tryAnother(led('n1'))).toBe(true);
  });
});
