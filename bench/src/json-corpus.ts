/**
 * A JSON event corpus for the compression comparison (issue #62): events shaped like an
 * application's log (ids, ISO timestamps, nested objects, free text), generated from a seed
 * so every run and every mode gets byte-identical records, before any clock starts.
 */

const ACTIONS = ['page_view', 'click', 'add_to_cart', 'checkout', 'login', 'logout', 'search'];
const COUNTRIES = ['NZ', 'AU', 'DE', 'FR', 'US', 'JP', 'BR', 'IN', 'GB', 'CA'];
const BROWSERS = ['Firefox 132', 'Chrome 131', 'Safari 18.1', 'Edge 131'];
const WORDS = (
  'order shipped delayed customer asked about refund status warehouse label printed twice ' +
  'payment declined retry succeeded card expired address updated coupon applied total ' +
  'changed stock low item returned because size wrong colour faded review posted'
).split(' ');

/** mulberry32: small, seedable, enough to vary the fields. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` JSON events as UTF-8 payloads, of about 300 to 600 bytes each. */
export function jsonEvents(count: number, seed: number): Buffer[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');
  let time = Date.UTC(2026, 10, 27, 9, 0, 0);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    time += Math.floor(next() * 250);
    const words = Array.from({ length: 4 + Math.floor(next() * 14) }, () => pick(WORDS));
    const event = {
      id: `evt_${hex(24)}`,
      seq: i,
      ts: new Date(time).toISOString(),
      action: pick(ACTIONS),
      user: {
        id: `usr_${Math.floor(next() * 50_000)}`,
        country: pick(COUNTRIES),
        plan: next() < 0.2 ? 'pro' : 'free',
      },
      session: { id: `ses_${hex(16)}`, browser: pick(BROWSERS), page: Math.floor(next() * 40) },
      cart:
        next() < 0.3
          ? { items: Math.floor(next() * 6), totalCents: Math.floor(next() * 40_000) }
          : null,
      note: words.join(' '),
    };
    out.push(Buffer.from(JSON.stringify(event)));
  }
  return out;
}
