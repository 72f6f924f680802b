import { crc32c } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo, PowerLossAtStep } from '@walnut/storage-io';
import { isWalError, Wal, type WalBuilder } from '@walnut/wal';
import { soakKeyRing } from './keys.js';
import { Ledger } from './ledger.js';
import { makePayload } from './payload.js';
import { Rng } from './random.js';

const DIR = '/log';
/** A case that has not finished after this long is reported as stalled. */
const CASE_TIMEOUT_MS = 60_000;

export interface PowerLossOptions {
  cases: number;
  seed: number;
  progress: (line: string) => void;
}

export interface PowerLossTally {
  cases: number;
  /** Power cuts (a case cuts power once per round, 1-3 rounds on the same log). */
  powerLosses: number;
  /** Cuts that came while the log was being opened (recovering the previous cut). */
  cutWhileOpening: number;
  /** Cuts that came after every producer had finished (nothing in flight). */
  cutWhenIdle: number;
  /** Cuts that kept pages of unsynced writes out of order (`reorder`), not only a torn one. */
  reordered: number;
  acknowledged: number;
  acknowledgedChecks: number;
  recordsChecked: number;
  /** Appends rejected because of the cut, by code. */
  rejected: Record<string, number>;
  violations: string[];
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish in ${CASE_TIMEOUT_MS} ms`)),
      CASE_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Phase 2: simulated power losses. Concurrent producers append with durable
 * acknowledgements through a FaultyStorageIo over memory; power is cut at a random I/O step
 * (during the writes, a rollover, an fdatasync, or the next open's recovery), the newest
 * unsynced write torn, and in one cut of two pages of any unsynced write kept out of order;
 * the log is
 * reopened on a fresh backend over the surviving bytes and checked against the ledger.
 */
export async function runPowerLosses(options: PowerLossOptions): Promise<PowerLossTally> {
  const tally: PowerLossTally = {
    cases: 0,
    powerLosses: 0,
    cutWhileOpening: 0,
    cutWhenIdle: 0,
    reordered: 0,
    acknowledged: 0,
    acknowledgedChecks: 0,
    recordsChecked: 0,
    rejected: {},
    violations: [],
  };
  for (let index = 0; index < options.cases; index++) {
    const rng = Rng.forCase(options.seed, 'power', index);
    const space = {
      segmentSize: rng.pick([4096, 16_384, 65_536]),
      zeroFillAhead: rng.pick([0, 8192, undefined]),
      preallocate: rng.chance(0.25),
      directIo: rng.chance(0.2),
      writeBufferSize: rng.pick([4096, 65_536, undefined]),
    };
    const encrypted = rng.chance(0.5);
    const where = `power-loss case ${index} (seed ${options.seed}, ${JSON.stringify(space)}${encrypted ? ', encrypted' : ''})`;
    const builder = (io: FaultyStorageIo): WalBuilder => {
      const b = Wal.open(DIR).storageIo(io).options(space);
      return encrypted ? b.encryption(soakKeyRing()) : b;
    };
    const memory = new MemoryStorageIo();
    const ledger = new Ledger();
    const rounds = rng.int(1, 3);
    try {
      await withTimeout(
        (async () => {
          for (let round = 0; round < rounds; round++) {
            const at = rng.int(0, 160);
            // Deferred: a real power loss never makes a submission throw, and a FaultyStorageIo
            // crashed inside a caller's write-then-fdatasync pair makes the fdatasync's
            // submission throw WAL_CLOSED, which left the Wal's close() waiting forever when
            // this soak was written (see soak/README.md).
            const seed = rng.u32();
            const reorder = rng.chance(0.5);
            const io = new PowerLossAtStep(memory, { at, seed, reorder, deferred: true });
            const found = await powerLossRound(io, builder, ledger, rng, round, tally);
            tally.powerLosses++;
            if (reorder) tally.reordered++;
            for (const f of found)
              tally.violations.push(`${where}, round ${round} (cut before I/O step ${at}): ${f}`);
            if (found.length > 0) return;
          }
        })(),
        where,
      );
    } catch (error) {
      tally.violations.push(`${where}: ${(error as Error).message}`);
    }
    tally.cases++;
    if ((index + 1) % 50 === 0 || index + 1 === options.cases) {
      options.progress(
        `power losses: ${index + 1}/${options.cases} cases, ${tally.powerLosses} cuts, ${tally.acknowledged} acknowledged, ${tally.violations.length} violation(s)`,
      );
    }
  }
  return tally;
}

async function powerLossRound(
  io: PowerLossAtStep,
  builder: (io: FaultyStorageIo) => WalBuilder,
  ledger: Ledger,
  rng: Rng,
  round: number,
  tally: PowerLossTally,
): Promise<string[]> {
  let wal: Wal | null = null;
  try {
    wal = await builder(io).build();
  } catch (error) {
    if (!io.cut) return [`opening before the cut failed: ${describe(error)}`];
    tally.cutWhileOpening++;
  }
  if (wal !== null) {
    const open = wal;
    const before = ledger.acknowledged;
    const producers = rng.int(4, 16);
    const perProducer = rng.int(10, 150);
    const sizes = rng.pick([
      [20, 100],
      [20, 1000],
      [200, 5000],
    ] as const);
    const produce = async (producer: number, prng: Rng) => {
      for (let seq = 0; seq < perProducer; seq++) {
        const payload = makePayload({ epoch: round, producer, seq }, prng.int(sizes[0], sizes[1]));
        let lsn: bigint;
        try {
          lsn = await open.append(payload);
        } catch (error) {
          const code = isWalError(error) ? error.code : 'not a WalError';
          tally.rejected[code] = (tally.rejected[code] ?? 0) + 1;
          return;
        }
        ledger.ack(lsn, crc32c(payload));
      }
    };
    await Promise.all(Array.from({ length: producers }, (_, p) => produce(p, new Rng(rng.u32()))));
    if (!io.cut) tally.cutWhenIdle++;
    await io.powerOff();
    await open.close().catch(() => undefined);
    tally.acknowledged += ledger.acknowledged - before;
  } else {
    await io.powerOff();
  }
  // Reboot: a fresh backend over what survived.
  const after = new FaultyStorageIo(io.inner, { seed: rng.u32() });
  let reopened: Wal;
  try {
    reopened = await builder(after).build();
  } catch (error) {
    return [`reopening after the cut failed: ${describe(error)}`];
  }
  const check = ledger.startCheck();
  try {
    await reopened.replay(1n, (record) => check.record(record.lsn, record.payload));
  } catch (error) {
    return [`replay after the cut failed: ${describe(error)}`];
  } finally {
    await reopened.close();
  }
  const result = check.finish();
  tally.acknowledgedChecks += result.acknowledgedChecked;
  tally.recordsChecked += result.records;
  return result.violations;
}

function describe(error: unknown): string {
  return `${isWalError(error) ? error.code : 'not a WalError'}: ${(error as Error)?.message ?? error}`;
}
