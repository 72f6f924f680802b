/**
 * One contender, one workload, one fresh process: the parent spawns this file per run so
 * every run starts with a fresh heap and no state left by another contender.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { NotAvailable } from './contender.js';
import { contenderById } from './contenders/index.js';
import {
  type DriverTask,
  type RunMetrics,
  runBuffered,
  runFsyncEach,
  runGroupCommit,
  runReplay,
} from './drivers.js';
import { type ChildRequest, type ChildResponse, RESPONSE_MARKER } from './protocol.js';
import { runIngestWhileServing } from './serving/driver.js';

function dropPageCache(): void {
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

async function runTask(
  contender: Awaited<ReturnType<ReturnType<typeof contenderById>['load']>>,
  task: DriverTask,
): Promise<RunMetrics> {
  if ('run' in contender) return contender.run(task);
  switch (task.workload) {
    case 'W1':
    case 'W5':
      return runBuffered(contender, task);
    case 'W2':
      return runFsyncEach(contender, task);
    case 'W3':
      return runGroupCommit(contender, task);
    case 'W4':
      return runReplay(contender, task, dropPageCache);
    case 'W6':
      return runIngestWhileServing(contender, task);
  }
}

async function main(): Promise<ChildResponse> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
  let loaded: Awaited<ReturnType<ReturnType<typeof contenderById>['load']>>;
  try {
    loaded = await contenderById(request.contender).load();
  } catch (error) {
    if (error instanceof NotAvailable) return { kind: 'unavailable', reason: error.message };
    throw error;
  }
  const base = { kind: 'ok' as const, versions: loaded.versions, notes: loaded.notes };
  if (request.task === undefined) return base;
  try {
    return { ...base, metrics: await runTask(loaded, request.task) };
  } catch (error) {
    // A contender that finds out only in the run's directory (its file system) that it cannot run.
    if (error instanceof NotAvailable) return { kind: 'unavailable', reason: error.message };
    throw error;
  }
}

let response: ChildResponse;
try {
  response = await main();
} catch (error) {
  const failure = error as Error;
  response = { kind: 'failed', error: `${failure.name}: ${failure.message}` };
}
process.stdout.write(`\n${RESPONSE_MARKER}${JSON.stringify(response)}\n`, () => process.exit(0));
