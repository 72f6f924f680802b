import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { loadReplicate } from './load-replicate.js';

function notFound(what: string): Error {
  return Object.assign(new Error(`Cannot find package '${what}' imported from /x/cli.js`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

describe('loading @walnut/replicate for follow and promote', () => {
  it('loads it when it is installed', async () => {
    const replicate = await loadReplicate('follow');
    expect(typeof replicate.Follower.open).toBe('function');
  });

  it('says what to install when it is not', async () => {
    const missing = loadReplicate('promote', () => Promise.reject(notFound('@walnut/replicate')));
    await expect(missing).rejects.toBeInstanceOf(UsageError);
    await expect(missing).rejects.toThrow(
      /walnut promote needs @walnut\/replicate.*npm install @walnut\/replicate \(it supports Node 22 and later\)/,
    );
  });

  it('passes on any other failure as it is, a missing NATS client among them', async () => {
    const broken = notFound('@nats-io/jetstream');
    await expect(loadReplicate('follow', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});
