import { WalError, WalErrorCode } from '@walnut/codec';
import { expectWalError, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { describe, expect, it, vi } from 'vitest';
import type { ClusterLink } from '../cluster/link.js';
import { catchUp, openOnLink } from './replica-log.js';

function fakeLink(): { link: ClusterLink; closed: () => boolean } {
  let closed = false;
  const link = {
    nc: { info: undefined },
    names: { stream: 'orders' },
    close: async () => {
      closed = true;
    },
  } as unknown as ClusterLink;
  return { link, closed: () => closed };
}

describe('openOnLink', () => {
  it("turns a cluster's raw refusal during set-up into WAL_IO naming the stream, and closes the link", async () => {
    const { link, closed } = fakeLink();
    const raw = new Error('JetStream system temporarily unavailable');
    const opening = openOnLink(
      link,
      async () => {
        throw raw;
      },
      async () => 'never',
    );
    await expect(opening).rejects.toMatchObject({
      code: WalErrorCode.IO,
      cause: raw,
      message: expect.stringMatching(/stream 'orders'.*temporarily unavailable.*open again/),
    });
    expect(closed()).toBe(true);
  });

  it('passes a WalError on as it is', async () => {
    const { link } = fakeLink();
    const refusal = new WalError(WalErrorCode.DIVERGED, 'diverged');
    const opening = openOnLink(
      link,
      async () => {
        throw refusal;
      },
      async () => 'never',
    );
    await expect(opening).rejects.toBe(refusal);
  });
});

/**
 * A stream of three messages whose consumers never deliver (as one served by a server
 * whose copy is behind): each waits until it is stopped.
 */
function silentStream(): { link: ClusterLink; consumers: () => number; stopped: () => number } {
  let consumers = 0;
  let stopped = 0;
  const consumer = {
    consume: async () => {
      let stop: () => void = () => undefined;
      const ended = new Promise<void>((resolve) => {
        stop = resolve;
      });
      return {
        stop: () => {
          stopped++;
          stop();
        },
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            await ended;
            return { done: true, value: undefined };
          },
        }),
      };
    },
  };
  const link = {
    names: { stream: 'orders' },
    bounds: async () => ({ first: 1, last: 3 }),
    findSequence: async () => ({ seq: 1, reachesBack: true }),
    js: {
      consumers: {
        get: async () => {
          consumers++;
          return consumer;
        },
      },
    },
  } as unknown as ClusterLink;
  return { link, consumers: () => consumers, stopped: () => stopped };
}

describe('catchUp', () => {
  it('gives up on a consumer that delivers nothing, tries new ones, then fails with WAL_IO', async () => {
    const { link, consumers, stopped } = silentStream();
    const wal = await Wal.open(tempDir()).storageIo('sync-fs').build();
    // Six consumers idle 5 s each: the watchdog's clock is faked, not waited for.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
    try {
      const refusal = expectWalError(catchUp(link, wal), 'WAL_IO');
      let settled = false;
      refusal.finally(() => {
        settled = true;
      });
      for (let step = 0; step < 100 && !settled; step++) await vi.advanceTimersByTimeAsync(1_250);
      const refused = await refusal;
      expect(refused.message).toMatch(/stream 'orders'.*delivered nothing.*retry/);
      expect(consumers()).toBe(6);
      expect(stopped()).toBeGreaterThanOrEqual(6);
    } finally {
      vi.useRealTimers();
      await wal.close();
    }
  });
});
