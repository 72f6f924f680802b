import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { StreamErrorCode } from './errors.js';
import { ROWS_FILES } from './rows-file.js';
import { Streams } from './streams.js';

/** What the streams should do, kept in memory: the specification the log is held to. */
interface ModelStream {
  config: { ttlMs?: number };
  expiresAt: number | undefined;
  records: string[];
  closed: boolean;
  producers: Map<string, ModelProducer>;
}

interface ModelProducer {
  epoch: number;
  lastSeq: number;
  lastAt: number;
  results: Map<number, unknown>;
}

/** Producers idle this long are forgotten: ticks of 100 and 1000 ms cross it. */
const PRODUCER_TTL = 300;

const NAMES = ['a', 'b', 'c'];
const PRODUCERS = ['p', 'q'];
const name = fc.constantFrom(...NAMES);
const producer = fc.constantFrom(...PRODUCERS);
const op = fc.oneof(
  // Creates and appends weigh more, so that streams hold records for compactions to move.
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('create' as const),
      name,
      ttl: fc.option(fc.constantFrom(50, 500)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      name,
      n: fc.integer({ min: 1, max: 3 }),
    }),
  },
  fc.record({
    t: fc.constant('produce' as const),
    name,
    pid: producer,
    bump: fc.boolean(),
    gap: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({ t: fc.constant('retry' as const), name, pid: producer, back: fc.nat(3) }),
  fc.record({ t: fc.constant('stale' as const), name, pid: producer }),
  fc.record({ t: fc.constant('cond' as const), name, delta: fc.integer({ min: -1, max: 1 }) }),
  fc.record({ t: fc.constant('delete' as const), name }),
  fc.record({ t: fc.constant('close' as const), name }),
  fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(10, 100, 1000) }),
  fc.record({ t: fc.constant('reopen' as const) }),
  // The log closed under the streams, which write no checkpoint: open replays what follows
  // the last one.
  fc.record({ t: fc.constant('crash' as const) }),
  // The same, with the checkpoint lost too: open replays the whole log that is kept, where a
  // compaction may have left a stream's records after its image only.
  fc.record({ t: fc.constant('forget' as const) }),
  fc.record({ t: fc.constant('forget-rows' as const) }),
  { weight: 2, arbitrary: fc.record({ t: fc.constant('compact' as const) }) },
  fc.record({ t: fc.constant('read' as const), name, at: fc.nat(10) }),
);

/**
 * An expired stream reads as absent: WAL_STREAM_EXPIRED while the log still knows it, and
 * WAL_STREAM_NOT_FOUND once a reclaim deleted its create and a reopen had no checkpoint to
 * remember it by. Reclaims and compactions also run by themselves between calls, which the
 * model does not follow, so both sides here say "absent" as NOT_FOUND (streams.test.ts
 * checks the EXPIRED answer itself).
 */
const ABSENT = { error: StreamErrorCode.NOT_FOUND };

async function outcome<T>(promise: Promise<T>): Promise<T | { error: string }> {
  try {
    return await promise;
  } catch (error) {
    const code = (error as { code?: string }).code ?? String(error);
    return code === StreamErrorCode.EXPIRED ? ABSENT : { error: code };
  }
}

/** Printed first, so a run that times out can be replayed: WALNUT_STREAMS_SEED=<seed>. */
const seed = Number(process.env.WALNUT_STREAMS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('streams against an in-memory model', () => {
  it('agree on every outcome of random create / append / producer retry / conditional append / delete / expiry / forgotten producer / read / reopen / compaction / lost checkpoint / lost index rows', async () => {
    console.log(`streams model: seed ${seed} (WALNUT_STREAMS_SEED=${seed} replays it)`);
    let copied = 0;
    let compactions = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40, size: 'max' }), async (ops) => {
        let now = 1_000_000;
        const dir = tempDir();
        // Small segments and a low bound: compactions run by themselves too, between calls.
        const open = () =>
          Streams.open(dir, {
            durability: 'none',
            clock: () => now,
            checkpointEvery: 3,
            segmentSize: 4096,
            maxWaste: 0.5,
            producerTtlMs: PRODUCER_TTL,
          });
        let streams = await open();
        const model = new Map<string, ModelStream>();
        const live = (n: string) => {
          const s = model.get(n);
          if (s === undefined) return { error: StreamErrorCode.NOT_FOUND };
          if (s.expiresAt !== undefined && now >= s.expiresAt) return ABSENT;
          return s;
        };
        /** The producer's state, unless it was idle long enough to be forgotten. */
        const known = (s: ModelStream | undefined, pid: string) => {
          const state = s?.producers.get(pid);
          if (state !== undefined && now - state.lastAt >= PRODUCER_TTL) s!.producers.delete(pid);
          return s?.producers.get(pid);
        };
        const modelAppend = (n: string, payloads: string[], stamp?: [string, number, number]) => {
          const s = live(n);
          if ('error' in s) return s;
          if (stamp !== undefined) {
            const [pid, epoch, seq] = stamp;
            const state = known(s, pid);
            if (state === undefined || epoch > state.epoch) {
              if (seq !== 0) return { error: StreamErrorCode.SEQUENCE_GAP };
            } else if (epoch < state.epoch) return { error: StreamErrorCode.PRODUCER_FENCED };
            else if (seq <= state.lastSeq) {
              return {
                ...(state.results.get(seq) as object),
                duplicate: true,
                producerSeq: state.lastSeq,
              };
            } else if (seq !== state.lastSeq + 1) return { error: StreamErrorCode.SEQUENCE_GAP };
          }
          if (s.closed) return { error: StreamErrorCode.CLOSED };
          const result = { first: s.records.length, tail: s.records.length + payloads.length };
          s.records.push(...payloads);
          if (stamp !== undefined) {
            const [pid, epoch, seq] = stamp;
            let state = s.producers.get(pid);
            if (state?.epoch !== epoch || seq === 0) {
              state = { epoch, lastSeq: seq, lastAt: now, results: new Map() };
              s.producers.set(pid, state);
            }
            state.lastSeq = seq;
            state.lastAt = now;
            state.results.set(seq, result);
          }
          return { ...result, duplicate: false, producerSeq: stamp?.[2] };
        };
        const sent = new Map<string, string[]>();
        for (const [i, o] of ops.entries()) {
          const payloads = (n: number) =>
            Array.from(
              { length: n },
              (_, k) => `${i}.${k}.${'-'.repeat((i * 397 + k * 113) % 3000)}`,
            );
          const bufs = (list: string[]) => list.map((p) => Buffer.from(p));
          if (o.t === 'create') {
            const config = o.ttl === null ? {} : { ttlMs: o.ttl };
            const s = live(o.name);
            let expected: unknown;
            if ('error' in s) {
              model.set(o.name, {
                config,
                expiresAt: o.ttl === null ? undefined : now + o.ttl,
                records: [],
                closed: false,
                producers: new Map(),
              });
              expected = { created: true };
            } else {
              expected =
                JSON.stringify(s.config) === JSON.stringify(config)
                  ? { created: false }
                  : { error: StreamErrorCode.CONFLICT };
            }
            const got = await outcome(streams.create(o.name, config));
            expect('error' in got ? got : { created: got.created }).toEqual(expected);
          } else if (o.t === 'append') {
            const list = payloads(o.n);
            const expected = modelAppend(o.name, list);
            expect(await outcome(streams.append(o.name, bufs(list)))).toEqual(expected);
          } else if (o.t === 'produce' || o.t === 'retry' || o.t === 'stale') {
            const state = known(model.get(o.name), o.pid);
            let stamp: [string, number, number];
            if (o.t === 'produce') {
              const epoch = (state?.epoch ?? 0) + (o.bump ? 1 : 0);
              const seq = state === undefined || o.bump ? 0 : state.lastSeq + 1;
              stamp = [o.pid, epoch, seq + (o.gap === 5 ? 2 : 0)];
            } else if (o.t === 'retry') {
              stamp = [o.pid, state?.epoch ?? 0, Math.max(0, (state?.lastSeq ?? 0) - o.back)];
            } else stamp = [o.pid, Math.max(0, (state?.epoch ?? 0) - 1), (state?.lastSeq ?? 0) + 1];
            const key = `${o.name}/${stamp.join('/')}`;
            const list = sent.get(key) ?? payloads(2);
            const expected = modelAppend(o.name, list, stamp);
            const [producerId, epoch, seq] = stamp;
            const got = await outcome(
              streams.append(o.name, bufs(list), { producer: { producerId, epoch, seq } }),
            );
            expect(got).toEqual(expected);
            if (!('error' in got) && !got.duplicate) sent.set(key, list);
          } else if (o.t === 'cond') {
            const s = live(o.name);
            const expectedTail = 'error' in s ? 0 : Math.max(0, s.records.length + o.delta);
            const list = payloads(1);
            const expected =
              'error' in s || s.closed || expectedTail === s.records.length
                ? modelAppend(o.name, list)
                : { error: StreamErrorCode.OFFSET_MISMATCH };
            expect(await outcome(streams.append(o.name, bufs(list), { expectedTail }))).toEqual(
              expected,
            );
          } else if (o.t === 'delete') {
            const existed = !('error' in live(o.name));
            if (existed) model.delete(o.name);
            expect(await streams.delete(o.name)).toBe(existed);
          } else if (o.t === 'close') {
            const s = live(o.name);
            if (!('error' in s)) s.closed = true;
            const got = await outcome(streams.close(o.name));
            expect('error' in got ? got : { closed: got.closed }).toEqual(
              'error' in s ? s : { closed: true },
            );
          } else if (o.t === 'tick') {
            now += o.ms;
          } else if (
            o.t === 'reopen' ||
            o.t === 'crash' ||
            o.t === 'forget' ||
            o.t === 'forget-rows'
          ) {
            if (o.t === 'reopen') await streams.shutdown();
            else await streams.log.shutdown();
            if (o.t === 'forget') rmSync(join(dir, CHECKPOINT_FILE), { force: true });
            if (o.t === 'forget-rows')
              for (const name of ROWS_FILES) rmSync(join(dir, name), { force: true });
            streams = await open();
            // Whatever open rebuilt the streams from, each reads back whole.
            for (const n of NAMES) {
              const s = live(n);
              if ('error' in s) continue;
              const got: string[] = [];
              for (let from = 0; from < s.records.length; ) {
                const read = await streams.read(n, from);
                if (read.records.length === 0) break;
                got.push(...read.records.map((r) => r.payload.toString()));
                from = read.next;
              }
              expect(got).toEqual(s.records);
            }
          } else if (o.t === 'compact') {
            const done = await streams.compact();
            copied += done.recordsCopied;
            if (done.recordsCopied > 0) compactions++;
          } else {
            const s = live(o.name);
            const from = 'error' in s ? 0 : Math.min(o.at, s.records.length);
            const got = await outcome(streams.read(o.name, from, { maxRecords: 4 }));
            const expected =
              'error' in s ? s : s.records.slice(from, from + 4).map((p, k) => [from + k, p]);
            expect(
              'error' in got ? got : got.records.map((r) => [r.offset, r.payload.toString()]),
            ).toEqual(expected);
          }
          expect(streams.list()).toEqual(NAMES.filter((n) => !('error' in live(n))));
        }
        await streams.shutdown();
      }),
      // A run of up to 40 calls takes ~0.3 s: one that hangs fails with its counterexample.
      { numRuns: 60, seed, timeout: 20_000 },
    );
    console.log(`streams model: ${compactions} compact() calls copied ${copied} records`);
    expect(compactions).toBeGreaterThan(0);
    // 17 s at a load of about 4 on 2 cores: room for a slower machine.
  }, 240_000);
});
