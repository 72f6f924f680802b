import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ (this file is in bench/src/contenders or bench/dist/contenders). */
export const BENCH_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The installed version of a dependency of the bench package. */
export function installedVersion(name: string): string {
  const manifest = join(BENCH_ROOT, 'node_modules', name, 'package.json');
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Imports a package through a variable specifier, turning any failure into a reason. */
export async function importOrReason<T>(
  specifier: string,
): Promise<{ module: T } | { reason: string }> {
  try {
    return { module: (await import(specifier)) as T };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    return { reason: `${specifier} cannot be loaded (${message})` };
  }
}
