import { WalError, WalErrorCode } from '@walnut/wal';
import { type ClusterLink, describe } from '../cluster/link.js';
import { checkMark } from '../cluster/mark.js';

/**
 * Refuses a promotion over a stream served short of its primary's high-water mark, or
 * holding another message at the mark's sequence (decision 0913): the new epoch's marker
 * would follow what the stream holds, and the acknowledged records beyond it would be
 * dropped for good. Resolves when the stream holds the mark, or there is none to check.
 */
export async function refuseBelowMark(link: ClusterLink): Promise<void> {
  let wrong: WalError | null;
  try {
    ({ wrong } = await checkMark(link));
  } catch (error) {
    if (error instanceof WalError) throw error;
    throw new WalError(
      WalErrorCode.IO,
      `the cluster cannot be reached to read the primary's high-water mark before promoting (${describe(error)}); nothing was taken and this follower goes on following: promote it again once the cluster answers`,
      { cause: error },
    );
  }
  if (wrong === null) return;
  throw new WalError(
    wrong.code,
    `${wrong.message}. Promoting now would start a new epoch after what the stream holds and drop for good what its primary replicated beyond it; nothing was taken and this follower goes on following. Promote once the stream is whole again, or, if every copy lost those records (a power cut of the whole cluster), promote with { acceptLoss: true } (walnut promote --accept-loss)`,
    { cause: wrong, details: wrong.details },
  );
}
