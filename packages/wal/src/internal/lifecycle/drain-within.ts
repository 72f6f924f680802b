const MAX_TIMER_MS = 2 ** 31 - 1;

export type DrainOutcome =
  | { readonly kind: 'drained' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Runs `drain` against a deadline of `timeoutMs` (the timer starts first; Infinity: none)
 * and until `signal` aborts. The drain keeps running after either; a shutdown's drain only
 * syncs, which is harmless.
 */
export async function drainWithin(
  drain: () => Promise<void>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<DrainOutcome> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // setTimeout takes a delay past 2^31 - 1 ms (~24.8 days) as 1 ms.
  const deadline = new Promise<'timeout' | 'aborted'>((resolve) => {
    if (timeoutMs <= MAX_TIMER_MS) timer = setTimeout(() => resolve('timeout'), timeoutMs);
    onAbort = () => resolve('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
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
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
