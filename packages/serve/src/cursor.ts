/**
 * Stream-Cursor values (PROTOCOL.md 10.1): the number of 20-second intervals since
 * 2024-10-09T00:00:00Z, and always above the cursor the client echoed, so a CDN never
 * serves a client the same cached live response forever.
 */
const EPOCH = Date.UTC(2024, 9, 9);
const INTERVAL_MS = 20_000;
/** 1 to 3600 s of jitter, in intervals. */
const MAX_JITTER = 3600_000 / INTERVAL_MS;

export function nextCursor(now: number, echoed: string | undefined): string {
  const current = Math.floor((now - EPOCH) / INTERVAL_MS);
  const client = echoed !== undefined && /^[0-9]{1,15}$/.test(echoed) ? Number(echoed) : -1;
  if (client < current) return String(current);
  return String(client + 1 + Math.floor(Math.random() * MAX_JITTER));
}
