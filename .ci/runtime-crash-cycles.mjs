// Real crashes under the runtime that runs this script (Node, Bun or Deno): a child process of
// the same runtime appends durable records to one log and reports each acknowledged LSN; the
// parent kills it with SIGKILL at a random moment, reopens the log, and checks that every
// acknowledged record is there, in order, byte for byte. Then the same with a worker thread
// of this process, ended by worker.terminate(): the parent reopens at once, so a lock the
// ended worker still holds fails the cycle. While each child holds the log, a second writer
// (this process) must be refused with WAL_LOCKED naming the child's pid. Bounded: CYCLES
// cycles of each, each writer stopped within KILL_WITHIN_MS, the run stopped after DEADLINE_MS.
//   <runtime> .ci/runtime-crash-cycles.mjs <results.json> [cycles]   (Deno: deno run -A)
// Writes its outcome as vitest's JSON (one test per cycle) for .ci/summarize.mjs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { currentRuntime, runtimeLabel } from '@walnut/codec';
import { Wal } from '@walnut/wal';

// Wine starts a Windows process in seconds, not milliseconds: .ci/wine.sh asks for fewer.
const CYCLES = Number(process.argv[3] ?? 12);
const KILL_WITHIN_MS = 400;
const DEADLINE_MS = 120_000;
const payload = (lsn) => Buffer.from(`record ${lsn} `.padEnd(100, '.'));

/** A writer's life, in a child process or a worker: appends until stopped (at most 100,000 records). */
async function appendUntilStopped(dir, report) {
  const wal = await Wal.open(dir).build();
  let next = wal.stats().lastLsn + 1n;
  report(`backend ${wal.stats().backend.name}`);
  for (let i = 0; i < 100_000; i++) {
    const lsns = await Promise.all(
      Array.from({ length: 8 }, (_, k) => wal.append(payload(next + BigInt(k)))),
    );
    next += 8n;
    report(`acked ${lsns.at(-1)}`);
  }
  await wal.shutdown(10_000);
}

if (!isMainThread) {
  await appendUntilStopped(workerData.dir, (line) => parentPort.postMessage(line));
} else if (process.argv[2] === '--child') {
  await appendUntilStopped(process.argv[3], (line) => process.stdout.write(`${line}\n`));
} else {
  const out = process.argv[2] ?? 'runtime-crash-results.json';
  const label = runtimeLabel();
  const dir = mkdtempSync(join(tmpdir(), 'walnut-crash-'));
  const started = Date.now();
  const results = [];
  let backend = '?';
  try {
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const title = `${label}: crash cycle ${cycle} keeps every acknowledged record`;
      try {
        if (Date.now() - started > DEADLINE_MS) throw new Error(`over ${DEADLINE_MS} ms`);
        const acked = await runChildUntilKilled(dir);
        backend = acked.backend;
        if (acked.refusal !== 'refused') throw new Error(acked.refusal);
        await checkLog(dir, acked.lsn);
        results.push({ title, status: 'passed', acked: acked.lsn });
      } catch (error) {
        results.push({ title, status: 'failed', failureMessages: [String(error?.stack ?? error)] });
      }
    }
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const title = `${label}: a worker terminated mid-append (cycle ${cycle}) leaves the log to the next opener, every acknowledged record kept`;
      try {
        if (Date.now() - started > DEADLINE_MS) throw new Error(`over ${DEADLINE_MS} ms`);
        const acked = await runWorkerUntilTerminated(dir);
        await checkLog(dir, acked);
        results.push({ title, status: 'passed', acked });
      } catch (error) {
        results.push({ title, status: 'failed', failureMessages: [String(error?.stack ?? error)] });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const passed = results.filter((r) => r.status === 'passed').length;
  const failed = results.length - passed;
  for (const r of results)
    console.log(
      `${r.status === 'passed' ? 'ok  ' : 'FAIL'} ${r.title}${r.acked ? ` (acked through ${r.acked})` : ''}${r.failureMessages ? `\n${r.failureMessages[0]}` : ''}`,
    );
  console.log(`${label} (${backend}): ${passed} crash and worker cycles passed, ${failed} failed`);
  writeFileSync(
    out,
    JSON.stringify({
      numPassedTests: passed,
      numFailedTests: failed,
      numPendingTests: 0,
      numTodoTests: 0,
      numFailedTestSuites: failed > 0 ? 1 : 0,
      testResults: [
        {
          name: `.ci/runtime-crash-cycles.mjs (${currentRuntime().name})`,
          status: failed > 0 ? 'failed' : 'passed',
          assertionResults: results.map((r) => ({ fullName: r.title, status: r.status })),
        },
      ],
    }),
  );
  process.exit(failed > 0 ? 1 : 0);
}

/** Starts a child of this runtime, kills it once it has acknowledged something, returns the last LSN it reported. */
function runChildUntilKilled(dir) {
  const self = fileURLToPath(import.meta.url);
  const args =
    currentRuntime().name === 'deno' ? ['run', '-A', self, '--child', dir] : [self, '--child', dir];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let lsn = 0n;
    let backend = '?';
    let buffered = '';
    const acked = { refusal: 'the second writer was never tried' };
    let timer;
    const giveUp = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the child acknowledged nothing within 30 s'));
    }, 30_000);
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        if (line.startsWith('backend ')) backend = line.slice(8);
        if (line.startsWith('acked ')) lsn = BigInt(line.slice(6));
      }
      if (lsn > 0n && timer === undefined) {
        clearTimeout(giveUp);
        timer = 'second writer';
        // While the child lives and holds the log, a second writer must be refused, by name.
        secondWriterRefused(dir, child.pid).then((refusal) => {
          acked.refusal = refusal;
          timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * KILL_WITHIN_MS);
        });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(giveUp);
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`the child ended by itself (code ${code})`));
      // What was read before the exit is all the child acknowledged that we saw.
      else resolve({ lsn, backend, refusal: acked.refusal });
    });
  });
}

/** 'refused' when opening the log for writing fails with WAL_LOCKED naming `holderPid`, else what happened. */
async function secondWriterRefused(dir, holderPid) {
  try {
    const wal = await Wal.open(dir).build();
    await wal.shutdown(10_000);
    return 'a second writer was admitted while the first held the log';
  } catch (error) {
    if (error?.code !== 'WAL_LOCKED') return `the second writer failed otherwise: ${error}`;
    if (error.details?.holderPid !== holderPid)
      return `WAL_LOCKED named pid ${error.details?.holderPid}, the writer is ${holderPid}`;
    return 'refused';
  }
}

/**
 * Starts a worker thread appending to the log, terminates it once it has acknowledged
 * something, and returns the last LSN it reported.
 */
async function runWorkerUntilTerminated(dir) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { dir } });
  let lsn = 0n;
  let failure = null;
  worker.on('error', (error) => {
    failure = error;
  });
  await new Promise((resolve, reject) => {
    const giveUp = setTimeout(
      () => reject(new Error('the worker acknowledged nothing within 30 s')),
      30_000,
    );
    worker.on('message', (line) => {
      if (!line.startsWith('acked ')) return;
      if (lsn === 0n) {
        clearTimeout(giveUp);
        setTimeout(resolve, Math.random() * KILL_WITHIN_MS);
      }
      lsn = BigInt(line.slice(6));
    });
    worker.on('exit', () => reject(failure ?? new Error('the worker ended by itself')));
  });
  await worker.terminate();
  // What was received before terminate() resolved is all the worker acknowledged that we saw.
  return lsn;
}

/** Reopens the log (recovery after the crash) and checks records 1..acked are there, intact. */
async function checkLog(dir, acked) {
  const wal = await Wal.open(dir).build();
  try {
    let expected = 1n;
    await wal.replay(1n, (r) => {
      if (r.lsn !== expected) throw new Error(`LSN ${r.lsn} where ${expected} was expected`);
      if (!payload(r.lsn).equals(r.payload)) throw new Error(`record ${r.lsn} differs`);
      expected++;
    });
    if (expected - 1n < acked)
      throw new Error(
        `records through ${acked} were acknowledged, the log ends at ${expected - 1n}`,
      );
  } finally {
    await wal.shutdown(10_000);
  }
}
