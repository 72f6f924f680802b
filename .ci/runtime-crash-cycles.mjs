// Real crashes under the runtime that runs this script (Node, Bun or Deno): a child process of
// the same runtime appends durable records to one log and reports each acknowledged LSN; the
// parent kills it with SIGKILL at a random moment, reopens the log, and checks that every
// acknowledged record is there, in order, byte for byte. Bounded: CYCLES cycles, each child
// killed within KILL_WITHIN_MS, the whole run stopped after DEADLINE_MS.
//   <runtime> .ci/runtime-crash-cycles.mjs <results.json>   (Deno: deno run -A)
// Writes its outcome as vitest's JSON (one test per cycle) for .ci/summarize.mjs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentRuntime, runtimeLabel } from '@walnut/codec';
import { Wal } from '@walnut/wal';

const CYCLES = 12;
const KILL_WITHIN_MS = 400;
const DEADLINE_MS = 120_000;
const payload = (lsn) => Buffer.from(`record ${lsn} `.padEnd(100, '.'));

if (process.argv[2] === '--child') {
  // The child: appends until killed (at most 100,000 records), one acknowledgement a line.
  const wal = await Wal.open(process.argv[3]).build();
  let next = wal.stats().lastLsn + 1n;
  process.stdout.write(`backend ${wal.stats().backend.name}\n`);
  for (let i = 0; i < 100_000; i++) {
    const lsns = await Promise.all(
      Array.from({ length: 8 }, (_, k) => wal.append(payload(next + BigInt(k)))),
    );
    next += 8n;
    process.stdout.write(`acked ${lsns.at(-1)}\n`);
  }
  await wal.shutdown(10_000);
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
        await checkLog(dir, acked.lsn);
        results.push({ title, status: 'passed', acked: acked.lsn });
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
      `${r.status === 'passed' ? 'ok  ' : 'FAIL'} ${r.title}${r.acked ? ` (acked through ${r.acked})` : ''}`,
    );
  console.log(`${label} (${backend}): ${passed} crash cycles passed, ${failed} failed`);
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
        timer = setTimeout(() => child.kill('SIGKILL'), Math.random() * KILL_WITHIN_MS);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(giveUp);
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`the child ended by itself (code ${code})`));
      // What was read before the exit is all the child acknowledged that we saw.
      else resolve({ lsn, backend });
    });
  });
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
