/**
 * The child of fs-power-streams.ts, run on a crashfs mount with the BUILT packages. Every
 * step opens the streams log (printing `ready LSN`, the checkpoint open started from) and
 * runs the idempotent producers: each sends its appends again from the first seq the parent
 * never saw acknowledged, with the same (producerId, epoch, seq) and the same payloads, so
 * what reached the log before a cut comes back as a duplicate. Beside them the step does its
 * own work. Each acknowledgement is a line written before the next step:
 *
 *   ack P SEQ FIRST DUP      an append of producer P resolved (DUP 1: as a duplicate)
 *   created NAME             a create resolved (create and checkpoint steps)
 *   put NAME OFFSET CRC      an append of one payload to NAME resolved (create, checkpoint)
 *   deleting NAME            a delete was called (it may or may not survive a cut)
 *   deleted NAME             it resolved
 *   expires NAME AT          a stream expiring at AT (ms) was created
 *   checkpoint LSN           a checkpoint resolved
 *   kcreated / kput / kdeleting / kdeleted / kcheckpoint   the same, in the compaction log
 *   reclaimed SEGMENTS       a reclaim resolved (expiry)
 *   compacted RECORDS SEGMENTS   a compaction resolved: records copied, segments deleted
 *
 * When the power cut strikes, the next operation fails (EIO): the child ends with what it
 * had acknowledged. Usage: node fs-power-streams-child.js '<json StreamsStepConfig>'
 */
import { crc32c } from '@walnut/codec';
import { Streams } from '@walnut/streams';
import {
  PRODUCERS,
  producerPayload,
  producerStream,
  SEGMENT_SIZE,
  type StreamsStepConfig,
} from './fs-power-streams-config.js';

const config = JSON.parse(process.argv[2]!) as StreamsStepConfig;
setTimeout(() => process.exit(3), 60_000).unref();
const say = (line: string) => process.stdout.write(`${line}\n`);
const IN_FLIGHT = 4;
const { step, cycle } = config;

const streams = await Streams.open(config.dir, {
  segmentSize: SEGMENT_SIZE,
  storageIo: config.backend,
  checkpointEvery: step === 'checkpoint' ? 3 : 40,
});
say(`ready ${streams.recovery.checkpointLsn}`);
for (const name of ['even', 'odd']) await streams.create(name);

async function produce(producer: number): Promise<void> {
  const inFlight: Promise<void>[] = [];
  const from = config.next[producer]!;
  for (let seq = from; seq < from + config.appends; seq++) {
    const payloads = Array.from({ length: 1 + (seq % 3) }, (_, part) =>
      producerPayload(producer, seq, part),
    );
    const stamp = { producerId: `p${producer}`, epoch: 1, seq };
    inFlight.push(
      streams.append(producerStream(producer), payloads, { producer: stamp }).then((r) => {
        say(`ack ${producer} ${seq} ${r.first} ${r.duplicate ? 1 : 0}`);
      }),
    );
    if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

async function createSome(): Promise<void> {
  await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const name = `s${cycle}-${i}`;
      await streams.create(name, { metadata: { cycle: String(cycle) } });
      say(`created ${name}`);
      const payload = Buffer.from(`${name}:0`);
      const { first } = await streams.append(name, payload);
      say(`put ${name} ${first} ${crc32c(payload)}`);
    }),
  );
}

async function deleteSome(): Promise<void> {
  const fresh = Array.from({ length: 4 }, (_, i) => `d${cycle}-${i}`);
  await Promise.all(
    fresh.map(async (name) => {
      await streams.create(name);
      await streams.append(name, Buffer.from('must never be read again'));
    }),
  );
  await Promise.all(
    [...fresh, ...config.deletable].map(async (name) => {
      say(`deleting ${name}`);
      await streams.delete(name);
      say(`deleted ${name}`);
    }),
  );
}

async function expireSome(): Promise<void> {
  let last = 0;
  await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const name = `e${cycle}-${i}`;
      const expiresAt = Date.now() + 600 + 50 * i;
      last = Math.max(last, expiresAt);
      await streams.create(name, { expiresAt });
      say(`expires ${name} ${expiresAt}`);
      // On a loaded machine the stream may expire before this append: that is no failure.
      await streams.append(name, Buffer.alloc(2000, i)).catch((error: { code?: string }) => {
        if (error.code !== 'WAL_STREAM_EXPIRED') throw error;
      });
    }),
  );
  // Cuts also land on what runs once they expired: a checkpoint without them, a reclaim.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, last - Date.now() + 5)));
  say(`checkpoint ${await streams.checkpoint()}`);
  const { segmentsDeleted } = await streams.reclaim();
  say(`reclaimed ${segmentsDeleted}`);
}

/** Checkpoints, each with a record before it, so that each adds a row to the rows file. */
async function checkpointOften(): Promise<void> {
  const name = `c${cycle}`;
  await streams.create(name);
  say(`created ${name}`);
  for (let i = 0; i < 30; i++) {
    const payload = Buffer.from(`${name}:${i}`);
    const { first } = await streams.append(name, payload);
    say(`put ${name} ${first} ${crc32c(payload)}`);
    say(`checkpoint ${await streams.checkpoint()}`);
  }
}

/**
 * In the churn log: the older cycles' streams deleted; a survivor with records below and
 * above those of a stream filled over two segments and then deleted; a checkpoint, and a
 * compaction that copies the survivor's records forward out of the dead stream's segments
 * (same offsets) and deletes those segments.
 */
async function compact(): Promise<void> {
  const churn = await Streams.open(config.churnDir, {
    segmentSize: SEGMENT_SIZE,
    storageIo: config.backend,
    checkpointEvery: 0,
  });
  const create = async (name: string) => {
    await churn.create(name);
    say(`kcreated ${name}`);
  };
  const remove = async (name: string) => {
    say(`kdeleting ${name}`);
    await churn.delete(name);
    say(`kdeleted ${name}`);
  };
  const put = async (name: string, records: number) => {
    for (let i = 0; i < records; i += IN_FLIGHT) {
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async (_, k) => {
          const payload = Buffer.alloc(1000, (i + k) & 0xff);
          const { first } = await churn.append(name, payload);
          say(`kput ${name} ${first} ${crc32c(payload)}`);
        }),
      );
    }
  };
  for (const old of config.churnLive) await remove(old);
  const [kept, dead] = [`k${cycle}`, `k${cycle}-old`];
  await create(kept);
  await put(kept, 8);
  await create(dead);
  await put(dead, 120);
  await put(kept, 12);
  await remove(dead);
  say(`kcheckpoint ${await churn.checkpoint()}`);
  const { recordsCopied, segmentsDeleted } = await churn.compact();
  say(`compacted ${recordsCopied} ${segmentsDeleted}`);
  await churn.shutdown();
}

const work: Record<StreamsStepConfig['step'], () => Promise<void>> = {
  append: async () => {},
  create: createSome,
  delete: deleteSome,
  expiry: expireSome,
  checkpoint: checkpointOften,
  compaction: compact,
};
await Promise.all([
  work[step](),
  ...Array.from({ length: PRODUCERS }, (_, producer) => produce(producer)),
]);
await streams.shutdown();
say('done');
