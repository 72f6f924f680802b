/**
 * The payloads of the golden compressed log (`compressedLog()`): JSON events of a few hundred
 * bytes, the kind of payload compression is for. Deterministic, so that a test compares what
 * it reads with what was written.
 */
export function compressedLogEvent(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: `evt_${String(i).padStart(8, '0')}`,
      type: i % 3 === 0 ? 'page_view' : 'click',
      at: `2026-11-27T12:00:${String(i % 60).padStart(2, '0')}.000Z`,
      user: { id: `user_${i % 17}`, plan: 'pro', country: 'NZ' },
      page: { path: `/products/${i % 29}`, referrer: 'https://example.com/search?q=walnut' },
    }),
  );
}
