import { beforeEach } from 'vitest';

// A FaultyStorageIo built without a seed picks one (storage-io's `defaultFaultSeed`) and adds
// it to the array under this symbol while a runner listens; a failed test prints the first,
// so that `WALNUT_FAULT_SEED=<it> vitest run <file> -t '<test>'` replays its tears.
const FAULT_SEEDS = Symbol.for('walnut.faultSeeds');

beforeEach((context) => {
  const seeds: number[] = [];
  (globalThis as { [FAULT_SEEDS]?: number[] })[FAULT_SEEDS] = seeds;
  context.onTestFailed(() => {
    if (seeds.length === 0) return;
    const file = context.task.file?.name ?? 'the file';
    console.error(
      `FaultyStorageIo seeds of this test: ${seeds.join(', ')}; replay with WALNUT_FAULT_SEED=${seeds[0]} npx vitest run ${file} -t ${JSON.stringify(context.task.name)}`,
    );
  });
});
