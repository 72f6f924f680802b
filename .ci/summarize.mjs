// Prints vitest's JSON results as the one plain line CI reads, "N passed, N failed, N skipped",
// summed over every results file given (one per Node version), after a line per file.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of files) {
  if (!existsSync(file)) {
    console.error(`${basename(file)}: no test results (the test run did not finish)`);
    failed++;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  const suitesFailed = r.numFailedTestSuites ?? 0;
  console.log(
    `${basename(file)}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${s} skipped`,
  );
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numFailedTests === 0 && suitesFailed > 0 ? suitesFailed : 0);
  skipped += s;
  if (r.numPassedTests === 0) failed++;
  // The names of what failed, so a CI log that keeps only its tail still says which tests to run.
  for (const suite of r.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
      console.log(`  failed to run: ${suite.name}`);
    }
    for (const t of suite.assertionResults ?? []) {
      if (t.status === 'failed') console.log(`  failed: ${suite.name} > ${t.fullName}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || files.length === 0) process.exit(1);
