// Runs the test bundles build.mjs made, one file after another in this process, and writes
// vitest's JSON results for .ci/summarize.mjs (decision 0009). Made for Windows Node under
// Wine; runs on any Node (CI's check that a failure here is Windows', not the bundling's).
//   node .ci/wine-tests/run.mjs <bundle dir> <results.json> [time scale] [shard/shards]
// The time scale multiplies vitest's timeouts: Wine makes each system call a round trip to
// its server, and starts a process in seconds. A shard (0/2, 1/2) runs every second file, so
// that two processes share the work as vitest's two workers do. Its report is <results>.log.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [dir, out, timeScale = '1', shard = '0/1'] = process.argv.slice(2);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const at = (path) => join(root, ...path.split('/'));
globalThis.__walnutMeta = {
  url: (path) => pathToFileURL(at(path)).href,
  dirname: (path) => dirname(at(path)),
  filename: at,
};

// io_uring is Linux's: CI requires it of the Linux runs, and here its tests skip.
delete process.env.WALNUT_REQUIRE_IO_URING;

const [index, shards] = shard.split('/').map(Number);
const files = JSON.parse(readFileSync(join(dir, 'files.json'), 'utf8')).filter(
  (_, i) => i % shards === index,
);
// Windows Node under Wine prints to a pseudo-terminal at best: the report goes to a file.
const logFile = `${out}.log`;
writeFileSync(logFile, '');
const log = (line) => appendFileSync(logFile, `${line}\n`);
// Single tests .ci/runtime-exclusions.txt lists for Wine ("wine  <file> > <full name>  <reason>");
// whole files it lists are left out of the bundles by .ci/run.
const excluded = readFileSync(join(root, '.ci/runtime-exclusions.txt'), 'utf8')
  .split('\n')
  .map((line) => line.split(/ {2,}/))
  .filter(([runtime, target]) => runtime === 'wine' && target.includes(' > '))
  .map(([, target]) => target);
const { runFile } = await import(pathToFileURL(join(dir, 'vitest.mjs')).href);
const started = Date.now();
const testResults = [];
// A test's stray rejection or exception fails the file it came up in, as in vitest.
let stray = null;
process.on('unhandledRejection', (error) => {
  stray ??= error;
});
process.on('uncaughtException', (error) => {
  stray ??= error;
});
for (const { path, bundle } of files) {
  const t0 = Date.now();
  stray = null;
  const skip = new Set(
    excluded.filter((t) => t.startsWith(`${path} > `)).map((t) => t.slice(path.length + 3)),
  );
  const result = await runFile(
    path,
    pathToFileURL(join(dir, bundle)).href,
    Number(timeScale),
    skip,
  );
  // A line naming a test the file no longer has is stale: the renamed test runs unexcluded.
  const names = new Set(result.assertionResults.map((r) => r.fullName));
  for (const name of skip) {
    if (names.has(name)) continue;
    result.status = 'failed';
    result.assertionResults.push({
      title: name,
      fullName: name,
      status: 'failed',
      failureMessages: [
        '.ci/runtime-exclusions.txt lists this test, which the file does not have (renamed?)',
      ],
    });
  }
  if (stray !== null) {
    result.status = 'failed';
    result.message += `\nunhandled error: ${stray?.stack ?? stray}`;
  }
  testResults.push(result);
  const count = (s) => result.assertionResults.filter((r) => r.status === s).length;
  log(
    `${result.status === 'passed' ? '✓' : '✗'} ${path}: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped (${Date.now() - t0} ms)`,
  );
  if (result.message) log(`  ${result.message.split('\n').join('\n  ')}`);
  for (const r of result.assertionResults) {
    if (r.status === 'failed')
      log(
        `  ✗ ${r.fullName}\n    ${r.failureMessages.join('\n').split('\n').slice(0, 12).join('\n    ')}`,
      );
  }
}
const all = testResults.flatMap((r) => r.assertionResults);
const count = (s) => all.filter((r) => r.status === s).length;
const summary = {
  numPassedTests: count('passed'),
  numFailedTests: count('failed'),
  numPendingTests: count('skipped'),
  numTodoTests: 0,
  numFailedTestSuites: testResults.filter((r) => r.status === 'failed').length,
  startTime: started,
  success: testResults.every((r) => r.status === 'passed'),
  testResults,
};
writeFileSync(out, JSON.stringify(summary));
log(
  `${files.length} files: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed, ${summary.numPendingTests} skipped, ${summary.numFailedTestSuites} files failed (${Math.round((Date.now() - started) / 1000)} s)`,
);
// Handles a test left open must not keep the run alive.
process.exit(summary.success ? 0 : 1);
