import { describe, expect, it } from 'vitest';
import { ShortLeaders } from './short-leaders.js';

const servers = ['n1', 'n2', 'n3'];
const led = (leader: string) => ({
  leader,
  servers: [leader, ...servers.filter((s) => s !== leader)],
});

describe('the servers found leading a stream short', () => {
  it('steps each leader down until every server has served the stream short, then re-seeds', () => {
    const short = new ShortLeaders();
    expect(short.stepDownFirst(led('n1'))).toBe(true);
    expect(short.stepDownFirst(led('n2'))).toBe(true);
    expect(short.stepDownFirst(led('n3'))).toBe(false);
  });

  it('steps a leader found short again down again, while another server has had no turn', () => {
    const short = new ShortLeaders();
    expect(short.stepDownFirst(led('n1'))).toBe(true);
    expect(short.stepDownFirst(led('n1'))).toBe(true);
    expect(short.stepDownFirst(led('n2'))).toBe(true);
  });

  it('re-seeds once the step-downs are spent, two per server, though a server never led', () => {
    const short = new ShortLeaders();
    const answers = Array.from({ length: 7 }, (_, i) =>
      short.stepDownFirst(led(i % 2 ? 'n1' : 'n2')),
    );
    expect(answers).toEqual([true, true, true, true, true, true, false]);
  });

  it('re-seeds at once a stream only one server holds', () => {
    expect(new ShortLeaders().stepDownFirst({ leader: 'n1', servers: ['n1'] })).toBe(false);
  });

  it('starts over once the episode ends', () => {
    const short = new ShortLeaders();
    short.stepDownFirst(led('n1'));
    short.stepDownFirst(led('n2'));
    short.reset();
    expect(short.stepDownFirst(led('n3'))).toBe(true);
    expect(short.stepDownFirst(led('n1'))).toBe(true);
  });
});
