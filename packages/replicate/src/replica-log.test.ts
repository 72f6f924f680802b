import { WalError, WalErrorCode } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import type { ClusterLink } from './link.js';
import { openOnLink } from './replica-log.js';

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
