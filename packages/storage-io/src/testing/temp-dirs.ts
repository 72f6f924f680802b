import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/**
 * A fresh directory under the OS temp directory, named `prefix` plus a random suffix, kept
 * until `removeTempDirs()`: call that after each test (`afterEach(removeTempDirs)`).
 */
export function tempDir(prefix = 'walnut-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory `tempDir()` made since the last call, with what they hold. */
export function removeTempDirs(): void {
  // On Windows a file deleted while a process (a child just killed, say) still has it open
  // stays until that handle closes, and its directory with it: node:fs retries those.
  for (const dir of made.splice(0)) {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}
