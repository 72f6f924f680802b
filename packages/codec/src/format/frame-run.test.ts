import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { codecAddon, crc32cImplementation } from '../crc/crc32c.js';
import { crc32cJs } from '../crc/crc32c-js.js';
import { WalErrorCode } from '../errors/errors.js';
import { expectWalError } from '../testing/index.js';
import { BodyKind, FRAME_HEADER_SIZE } from './constants.js';
import {
  FrameRunStop,
  sealFrames,
  sealFramesJs,
  verifyFrameRun,
  verifyFramesJs,
  walkFrames,
  walkFramesJs,
} from './frame-run.js';
import { FrameStop } from './frame-stop.js';
import {
  encodeBatchFrame,
  encodeBatchFrameUnsealed,
  encodeRecordFrame,
  encodeRecordFrameUnsealed,
} from './records.js';
import { FrameScanner } from './scanner.js';

/** Unsealed frames (length + body, CRC field zero) back to back, bodies of the given sizes. */
function unsealedRun(bodies: Uint8Array[]): Buffer {
  const buf = Buffer.alloc(bodies.reduce((n, b) => n + FRAME_HEADER_SIZE + b.length, 0));
  let at = 0;
  for (const body of bodies) {
    buf.writeUInt32LE(body.length, at + 4);
    buf.set(body, at + FRAME_HEADER_SIZE);
    at += FRAME_HEADER_SIZE + body.length;
  }
  return buf;
}

const bodies = fc.array(fc.uint8Array({ minLength: 1, maxLength: 700 }), { maxLength: 12 });
/** A sealed run, then damage: a flipped byte, a cut end, or both. */
const damagedRun = fc.record({
  bodies,
  flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
  cut: fc.nat(40),
  maxBody: fc.constantFrom(700, 300, 1),
});

function damaged(
  model: { bodies: Uint8Array[]; flip: [number, number] | null; cut: number },
  kind?: number,
): Buffer {
  const buf = unsealedRun(model.bodies);
  if (kind !== undefined)
    for (let at = 0; at < buf.length; at += FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4))
      buf[at + FRAME_HEADER_SIZE] = kind;
  sealFramesJs(buf, 0, buf.length);
  if (model.flip !== null && buf.length > 0) {
    const at = model.flip[0] % buf.length;
    buf[at] = buf[at]! ^ model.flip[1];
  }
  return buf.subarray(0, Math.max(0, buf.length - model.cut));
}

describe('sealFrames', () => {
  it('writes the CRC32C of each frame over its length and body', () => {
    const buf = unsealedRun([Buffer.from('abc'), Buffer.alloc(500, 9)]);
    sealFrames(buf);
    expect(buf.readUInt32LE(0)).toBe(crc32cJs(buf, 4, 11, 0));
    expect(buf.readUInt32LE(11)).toBe(crc32cJs(buf, 15, buf.length, 0));
    expect(verifyFrameRun(buf)).toEqual({ count: 2, offset: buf.length, stop: FrameRunStop.END });
  });

  it('refuses a range the frames do not tile', () => {
    const buf = unsealedRun([Buffer.from('abc')]);
    const error = expectWalError(
      () => sealFrames(buf, 0, buf.length - 1),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain('put every frame in place');
  });
});

describe('unsealed encoders', () => {
  it('give the same bytes as the sealed ones once the buffer is sealed', () => {
    const records = [
      { payload: Buffer.from('a') },
      { type: 3, payload: Buffer.alloc(300, 1), tenantId: 9n },
    ];
    const sealed = Buffer.alloc(2048);
    const unsealed = Buffer.alloc(2048);
    let a = encodeRecordFrame(sealed, 0, 1n, records[0]!);
    a += encodeBatchFrame(sealed, a, 2n, records);
    let b = encodeRecordFrameUnsealed(unsealed, 0, 1n, records[0]!);
    b += encodeBatchFrameUnsealed(unsealed, b, 2n, records);
    expect(b).toBe(a);
    expect(unsealed.readUInt32LE(0)).toBe(0);
    sealFrames(unsealed, 0, b);
    expect(unsealed).toEqual(sealed);
  });
});

describe('verifyFrameRun', () => {
  it('stops at the first damaged frame and says why', () => {
    const buf = unsealedRun([Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
    sealFrames(buf);
    buf[19] = buf[19]! ^ 1; // the second frame's body
    expect(verifyFrameRun(buf)).toEqual({ count: 1, offset: 11, stop: FrameRunStop.CRC_MISMATCH });
    expect(verifyFrameRun(buf, 22).stop).toBe(FrameRunStop.END);
    expect(verifyFrameRun(buf, 0, 5).stop).toBe(FrameRunStop.SHORT_HEADER);
    expect(verifyFrameRun(buf, 0, 10).stop).toBe(FrameRunStop.BEYOND_END);
    expect(verifyFrameRun(buf, 0, buf.length, 2).stop).toBe(FrameRunStop.BAD_LENGTH);
  });
});

/** walkFrames through `walk`, from `start` to the end, into a table of `pairs` frames. */
function walked(
  walk: typeof walkFrames,
  buf: Uint8Array,
  start: number,
  pairs: number,
  maxBody = 700,
) {
  const table = new Uint32Array(pairs * 2);
  const status = new Float64Array(2);
  const count = walk(buf, start, buf.length, maxBody, status, table);
  return { count, stop: status[0], offset: status[1], table: [...table.subarray(0, 2 * count)] };
}

describe('walkFrames', () => {
  const buf = unsealedRun([Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
  sealFrames(buf);

  it('lists each frame as (offset from start, body length) and stops at the end', () => {
    expect(walked(walkFrames, buf, 0, 8)).toEqual({
      count: 3,
      stop: FrameStop.END,
      offset: buf.length,
      table: [0, 3, 11, 3, 22, 5],
    });
    expect(walked(walkFrames, buf, 11, 8).table).toEqual([0, 3, 11, 5]);
  });

  it('stops when its table is full, for the caller to resume there', () => {
    const first = walked(walkFrames, buf, 0, 2);
    expect([first.count, first.stop, first.offset]).toEqual([2, FrameStop.TABLE_FULL, 22]);
    expect(walked(walkFrames, buf, first.offset!, 2).stop).toBe(FrameStop.END);
  });

  it('tells a zero header (zero-filled space) from a bad length', () => {
    const zeroed = Buffer.concat([buf, Buffer.alloc(16)]);
    expect(walked(walkFrames, zeroed, 0, 8).stop).toBe(FrameStop.ZERO_HEADER);
    expect(walked(walkFrames, buf, 0, 8, 4).stop).toBe(FrameStop.BAD_LENGTH);
  });

  it('refuses arguments it cannot walk with', () => {
    const status = new Float64Array(2);
    expectWalError(
      () => walkFrames(buf, 0, buf.length + 1, 700, status, new Uint32Array(2)),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => walkFrames(buf, 0, buf.length, 700, new Float64Array(1), new Uint32Array(2)),
      WalErrorCode.BAD_ARGUMENT,
    );
    for (const table of [[0, 0] as unknown as Uint32Array, new Uint32Array(1)])
      expectWalError(
        () => walkFrames(buf, 0, buf.length, 700, status, table),
        WalErrorCode.BAD_ARGUMENT,
      );
  });
});

const addonSkipReason =
  codecAddon === null ? ` (skipped: the addon is not loaded — ${crc32cImplementation.reason})` : '';

describe.skipIf(codecAddon === null)(
  `native addon against the JavaScript twins${addonSkipReason}`,
  () => {
    const addon = codecAddon!;

    it('seals random frame runs byte for byte like JavaScript', () => {
      fc.assert(
        fc.property(bodies, (model) => {
          const js = unsealedRun(model);
          const native = Buffer.from(js);
          expect(addon.sealFrames(native, 0, native.length)).toBe(sealFramesJs(js, 0, js.length));
          expect(native).toEqual(js);
        }),
        { numRuns: 200 },
      );
    });

    it('verifies damaged runs to the same count, stop offset and stop kind', () => {
      fc.assert(
        fc.property(damagedRun, fc.nat(20), (model, from) => {
          const buf = damaged(model);
          const start = Math.min(from, buf.length);
          const a = new Float64Array(2);
          const b = new Float64Array(2);
          const nativeCount = addon.verifyFrames(buf, start, buf.length, model.maxBody, a);
          const jsCount = verifyFramesJs(buf, start, buf.length, model.maxBody, b);
          expect([nativeCount, ...a]).toEqual([jsCount, ...b]);
        }),
        { numRuns: 400 },
      );
    });

    it('walks damaged runs to the same table, count, stop offset and stop kind', () => {
      fc.assert(
        fc.property(
          damagedRun,
          fc.nat(20),
          fc.integer({ min: 1, max: 6 }),
          (model, from, pairs) => {
            const buf = damaged(model);
            const start = Math.min(from, buf.length);
            const walk = (fn: typeof walkFrames) => walked(fn, buf, start, pairs, model.maxBody);
            expect(walk(addon.walkFrames)).toEqual(walk(walkFramesJs));
          },
        ),
        { numRuns: 400 },
      );
    });

    it('answers -1 for a range beyond the view, so that JavaScript computes that CRC', () => {
      const buf = new ArrayBuffer(64);
      const view = new Uint8Array(buf, 8, 32);
      expect(addon.crc32c(view, 0, 32, 0)).toBe(crc32cJs(view, 0, 32, 0));
      expect(addon.crc32c(view, 1, 33, 0)).toBe(-1);
      expect(addon.crc32c(view, 32, 31, 0)).toBe(-1);
      structuredClone(buf, { transfer: [buf] });
      expect(addon.crc32c(view, 0, 32, 0)).toBe(-1);
    });

    it('reads views of shared memory too', () => {
      const shared = new Uint8Array(new SharedArrayBuffer(64)).fill(9).subarray(3);
      expect(addon.crc32c(shared, 1, 60, 5)).toBe(crc32cJs(shared, 1, 60, 5));
    });

    it('works in worker threads, each with its own argument slots, and after they exit', async () => {
      const script = `const { parentPort } = require('node:worker_threads');
const a = require(${JSON.stringify(createRequire(import.meta.url).resolve('node-gyp-build'))})(${JSON.stringify(fileURLToPath(new URL('../..', import.meta.url)))});
const args = new Float64Array(a.crc32cArgs);
const d = Buffer.from('123456789');
const crc = () => { args.set([0, d.length, 0]); a.crc32cOf(d); return args[3]; };
parentPort.postMessage([crc(), crc()]);`;
      const results = await Promise.all(
        [1, 2].map(
          () =>
            new Promise((resolve, reject) => {
              const worker = new Worker(script, { eval: true });
              worker.once('message', resolve);
              worker.once('error', reject);
            }),
        ),
      );
      expect(results).toEqual([
        [0xe3069283, 0xe3069283],
        [0xe3069283, 0xe3069283],
      ]);
      expect(addon.crc32c(Buffer.from('123456789'), 0, 9, 0)).toBe(0xe3069283);
    });

    it('computes the same CRC32C with its table fallback and at every length', () => {
      const data = Buffer.alloc(80_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
      const lengths = [0, 1, 7, 8, 9, 767, 768, 769, 24_576, 24_583, 79_990];
      const expected = lengths.map((n) => crc32cJs(data, 3, 3 + n, 0x1234));
      expect(lengths.map((n) => addon.crc32c(data, 3, 3 + n, 0x1234))).toEqual(expected);
      const script = `const a = require(${JSON.stringify(createRequire(import.meta.url).resolve('node-gyp-build'))})(${JSON.stringify(fileURLToPath(new URL('../..', import.meta.url)))});
const d = Buffer.alloc(80000); for (let i = 0; i < d.length; i++) d[i] = (i * 2654435761) >>> 24;
const args = new Float64Array(a.crc32cArgs);
const crc = (n) => { args.set([3, n, 0x1234]); a.crc32cOf(d); return args[3]; };
console.log(JSON.stringify([a.implementation(), ${JSON.stringify(lengths)}.map(crc)]));`;
      const out = execFileSync(process.execPath, ['-e', script], {
        env: { ...process.env, WALNUT_CODEC_NATIVE_TABLE: '1' },
        encoding: 'utf8',
      });
      expect(JSON.parse(out)).toEqual(['table', expected]);
    });
  },
);

describe('scanner over damaged runs', () => {
  it('stops where the frame run stops', () => {
    fc.assert(
      fc.property(damagedRun, (model) => {
        const buf = damaged(model, BodyKind.PADDING);
        const scanner = new FrameScanner(buf, { maxFrameBody: model.maxBody });
        let frames = 0;
        while (scanner.nextFrame() !== null) frames++;
        const run = verifyFrameRun(buf, 0, buf.length, model.maxBody);
        expect([frames, scanner.stop!.offset]).toEqual([run.count, run.offset]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('native switch', () => {
  it('WALNUT_CODEC_NATIVE=0 forces JavaScript and says so', async () => {
    vi.resetModules();
    vi.stubEnv('WALNUT_CODEC_NATIVE', '0');
    vi.stubEnv('WALNUT_CRC32C', undefined);
    try {
      const fresh = await import('../crc/crc32c.js');
      expect(fresh.codecAddon).toBeNull();
      expect(fresh.crc32cImplementation.reason).toMatch(/WALNUT_CODEC_NATIVE=0/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('reports which backend serves this process', () => {
    const addonServes = codecAddon !== null && process.env.WALNUT_CRC32C !== 'js';
    expect(crc32cImplementation.backend === 'addon').toBe(addonServes);
  });
});
