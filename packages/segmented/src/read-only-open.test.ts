import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeRecordFrame, recordFrameSize } from '@walnut/codec';
import { MemoryStorageIo, type OpenOptions } from '@walnut/storage-io';
import { expectWalError, payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../test/helpers.js';
import { SegmentedWal, type SegmentInfo } from './index.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-ro-open-');
});
afterEach(removeTempDirs);

const lsnsOf = async (wal: SegmentedWal) => (await collect(wal.replay())).map((r) => r.lsn);

/**
 * Writes records `from`..`from + 5` into segment `last` one frame past its written end, and
 * zeros after them, leaving zeros where record `from - 1` goes: what a reader sees while the
 * writer's later writes completed before an earlier one, in a segment zero-filled ahead.
 */
function landOutOfOrder(last: SegmentInfo, from: bigint): void {
  const frames: Buffer[] = [];
  for (let lsn = from; lsn < from + 6n; lsn++) {
    const frame = Buffer.alloc(recordFrameSize({ payload: payloadFor(lsn) }));
    encodeRecordFrame(frame, 0, lsn, { payload: payloadFor(lsn) });
    frames.push(frame);
  }
  frames.push(Buffer.alloc(8192));
  const bytes = Buffer.concat(frames);
  const skipped = recordFrameSize({ payload: payloadFor(from - 1n) });
  const fd = openSync(last.path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, last.writtenBytes! + skipped);
  } finally {
    closeSync(fd);
  }
}

describe('a read-only open beside a live writer', () => {
  it('ends the log at the writer frontier, not at damage, when a later write landed first', async () => {
    const writer = await SegmentedWal.open({ dir });
    for (let lsn = 1n; lsn <= 5n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    landOutOfOrder((await writer.listSegments()).at(-1)!, 7n);
    const reader = await SegmentedWal.open({ dir, readOnly: true });
    expect(await lsnsOf(reader)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(reader.recoveryReport.tornTail).toBeNull();
    expect(reader.recoveryReport.salvaged).toEqual([]);
    await reader.close();
    await writer.close();
  });

  it('looks again when a truncateBefore deletes a segment it listed before reading its header', async () => {
    const memory = new MemoryStorageIo();
    const writer = await SegmentedWal.open({ dir: '/log', io: memory, segmentTargetSize: 4096 });
    for (let lsn = 1n; lsn <= 200n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    const [oldest, second] = await writer.listSegments();
    let truncated = false;
    // The writer's truncation lands between the reader's listing and its first header read.
    const io = new Proxy(memory, {
      get(target, key) {
        if (key === 'open')
          return async (path: string, options?: OpenOptions) => {
            if (!truncated && path === oldest!.path) {
              truncated = true;
              await writer.truncateBefore(second!.firstLsn);
            }
            return target.open(path, options);
          };
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const reader = await SegmentedWal.open({ dir: '/log', io, readOnly: true });
    expect(truncated).toBe(true);
    expect(reader.floorLsn).toBe(second!.firstLsn);
    expect((await lsnsOf(reader)).at(-1)).toBe(200n);
    await reader.close();
    await writer.close();
  });

  it('still finds damage in the last segment when no writer holds the log', async () => {
    const writer = await SegmentedWal.open({ dir });
    for (let lsn = 1n; lsn <= 5n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    const last = (await writer.listSegments()).at(-1)!;
    await writer.close();
    // A byte of record 2's payload flipped: valid records follow the damage.
    const fd = openSync(last.path, 'r+');
    const frameBytes = recordFrameSize({ payload: payloadFor(1n) });
    writeSync(fd, Buffer.from([0xff]), 0, 1, last.writtenBytes! - 4 * frameBytes + 30);
    closeSync(fd);
    await expectWalError(SegmentedWal.open({ dir, readOnly: true }), 'WAL_CORRUPT');
  });
});

// ------------------------------------------------------------ a writer in another process

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

/**
 * The writer, in a child process on the built package, driven over stdin: `append N`
 * (records payloadFor(lsn), or `new` payloads), `cut L`, `before L`, `exit`; each answered
 * with its lastLsn and floor once durable.
 */
const WRITER = `
import { createInterface } from 'node:readline';
const { SegmentedWal } = await import(process.argv[1]);
const { payloadFor } = await import(process.argv[2]);
const wal = await SegmentedWal.open({ dir: process.argv[3], segmentTargetSize: 8192 });
const say = () => console.log(JSON.stringify({ last: String(wal.nextLsn - 1n), floor: String(wal.floorLsn) }));
say();
for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg, kind] = line.split(' ');
  if (command === 'append') {
    for (let i = 0; i < Number(arg); i++) {
      const lsn = wal.nextLsn;
      wal.append({ payload: kind === 'new' ? Buffer.from('new history ' + lsn) : payloadFor(lsn) });
    }
    await wal.sync();
  } else if (command === 'cut') await wal.truncateAfter(BigInt(arg));
  else if (command === 'before') await wal.truncateBefore(BigInt(arg));
  else break;
  say();
}
await wal.close();
`;

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

function writerProcess(logDir: string) {
  if (!existsSync(DIST))
    throw new Error(`${DIST} is missing: run \`npx tsup\` in packages/segmented first`);
  const testing = pathToFileURL(
    join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'storage-io', 'dist', 'testing.js'),
  );
  // A Node program: under Deno, process.execPath is deno, which does not take Node's flags.
  const node = 'Deno' in globalThis ? 'node' : process.execPath;
  const child = spawn(
    node,
    ['--input-type=module', '-e', WRITER, pathToFileURL(DIST).href, testing.href, logDir],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.add(child);
  const answers: { last: bigint; floor: bigint }[] = [];
  let wake: (() => void) | undefined;
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const { last, floor } = JSON.parse(buffered.slice(0, end));
      answers.push({ last: BigInt(last), floor: BigInt(floor) });
      buffered = buffered.slice(end + 1);
    }
    wake?.();
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code, signal) => reject(new Error(`the writer exited (${signal ?? code})`))),
  );
  exited.catch(() => undefined);
  const answer = async () => {
    const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      while (answers.length === 0)
        await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
      return answers.shift()!;
    } finally {
      clearTimeout(deadline);
    }
  };
  return {
    ready: answer,
    send(command: string) {
      child.stdin!.write(`${command}\n`);
      return answer();
    },
    /** Closes the writer's log and waits for the child to end (killed after 10 s). */
    async stop(): Promise<void> {
      const deadline = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.stdin!.end('exit\n');
      await exited.catch(() => undefined);
      clearTimeout(deadline);
    },
  };
}

describe('a read-only opener beside a writer in another process (built package)', () => {
  it("reads the writer's new history after its truncateAfter, records kept and new alike", async () => {
    const writer = writerProcess(dir);
    await writer.ready();
    await writer.send('append 100');
    const reader = await SegmentedWal.open({ dir, readOnly: true });
    expect(reader.writtenLsn).toBe(100n);
    await writer.send('cut 50');
    const { last } = await writer.send('append 10 new');

    expect(await reader.refresh()).toBe(last);
    const payloads = (await collect(reader.replay())).map((r) => r.payload.toString('latin1'));
    expect(payloads.slice(0, 50)).toEqual(
      Array.from({ length: 50 }, (_, i) => payloadFor(BigInt(i + 1)).toString('latin1')),
    );
    expect(payloads.slice(50)).toEqual(
      Array.from({ length: 10 }, (_, i) => `new history ${i + 51}`),
    );
    await reader.close();
    await writer.stop();
  }, 30_000);

  it('moves to the new floor when a truncateBefore deleted the segment it followed', async () => {
    const writer = writerProcess(dir);
    await writer.ready();
    await writer.send('append 10');
    const reader = await SegmentedWal.open({ dir, readOnly: true });
    expect(await reader.refresh()).toBe(10n);
    const { last } = await writer.send('append 400');
    const { floor } = await writer.send(`before ${last - 5n}`);

    expect(await reader.refresh()).toBe(last);
    expect(reader.floorLsn).toBe(floor);
    expect(
      await expectWalError(() => reader.replayFrom(11n), 'WAL_REPLAY_BELOW_FLOOR'),
    ).toMatchObject({
      details: { floorLsn: floor },
    });
    await reader.close();
    await writer.stop();
  }, 30_000);
});
