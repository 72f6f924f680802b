const MAX_TIMER_MS = 2 ** 31 - 1;

export type DrainOutcome =
  | { readonly kind: 'drained' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Runs `drain` against a deadline of `timeoutMs` (the timer starts first; Infinity: none).
 * The drain keeps running after a timeout; a shutdown's drain only syncs, which is harmless.
 */
export async function drainWithin(
  drain: () => Promise<void>,
  timeoutMs: number,
): Promise<DrainOutcome> {
  let timer: NodeJS.Timeout | undefined;
  // setTimeout takes a delay past 2^31 - 1 ms (~24.8 days) as 1 ms.
  const deadline = new Promise<'timeout'>((resolve) => {
    if (timeoutMs <= MAX_TIMER_MS) timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const drained = drain();
  drained.catch(() => undefined);
  try {
    const outcome = await Promise.race([drained.then(() => 'drained' as const), deadline]);
    return { kind: outcome };
  } catch (error) {
    return { kind: 'failed', error };
  } finally {
    clearTimeout(timer);
  }
}
