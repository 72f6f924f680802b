import { UsageError } from '../errors.js';

type Replicate = typeof import('@walnut/replicate');

/**
 * @walnut/replicate and the NATS client it brings are an optional peer of the CLI (decision
 * 0006): only `follow`, `promote` and `rejoin` use them, so they are loaded when one of those runs,
 * and a CLI installed without them says what to install instead of failing at start-up.
 */
export async function loadReplicate(
  command: string,
  load: () => Promise<Replicate> = () => import('@walnut/replicate'),
): Promise<Replicate> {
  try {
    return await load();
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new UsageError(
      `walnut ${command} needs @walnut/replicate, which is not installed (an optional peer of @walnut/cli, left out so that the other commands do not bring the NATS client). Install it beside the CLI: npm install @walnut/replicate (it supports Node 22 and later).`,
    );
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    String(e.message).includes('@walnut/replicate')
  );
}
