/** The JavaScript runtimes Walnut tells apart: each runs N-API addons, with differences. */
export type RuntimeName = 'node' | 'bun' | 'deno';

export interface Runtime {
  readonly name: RuntimeName;
  readonly version: string;
}

/**
 * The runtime this process runs in (the arguments are for tests). Bun and Deno both set
 * `process.versions.node` (the Node version they imitate), so they are told apart by what
 * only they define.
 */
export function currentRuntime(
  versions: Readonly<Record<string, string | undefined>> = process.versions,
  global: object = globalThis,
): Runtime {
  const bun = versions.bun;
  if (typeof bun === 'string') return { name: 'bun', version: bun };
  const deno = (global as { Deno?: { version?: { deno?: string } } }).Deno;
  if (deno !== undefined) return { name: 'deno', version: deno.version?.deno ?? 'unknown' };
  return { name: 'node', version: versions.node ?? 'unknown' };
}

/** "Deno 2.9.6", for messages. */
export function runtimeLabel(runtime: Runtime = currentRuntime()): string {
  const names: Record<RuntimeName, string> = { node: 'Node', bun: 'Bun', deno: 'Deno' };
  return `${names[runtime.name]} ${runtime.version}`;
}

/**
 * An environment variable, or undefined where the runtime will not show it: Deno without
 * `--allow-env` throws on every read, and a switch it cannot see is a switch not set.
 */
export function readEnv(name: string): string | undefined {
  try {
    return process.env[name];
  } catch {
    return undefined;
  }
}

/**
 * Whether an error is Deno refusing a permission ("Requires ffi access to …, run again with
 * the --allow-ffi flag"), which no compiler or rebuild can cure.
 */
export function isDenoPermissionError(error: unknown, runtime = currentRuntime()): boolean {
  return (
    runtime.name === 'deno' &&
    error instanceof Error &&
    (error.name === 'NotCapable' || error.name === 'PermissionDenied')
  );
}
