import { channel } from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentRuntime, isDenoPermissionError, readEnv, runtimeLabel } from './runtime.js';

/** The three native addons of Walnut, by the package that ships each. */
export type AddonName = 'codec' | 'storage-io' | 'mmap-reader';

/** What loading an addon gave: the binding, or null and why; always a reason to report. */
export interface AddonLoad<T> {
  readonly binding: T | null;
  /** How it was loaded (the file), or why not — one line, for `describe()` and `stats()`. */
  readonly reason: string;
  /** The file the binding came from. */
  readonly path?: string;
  /** Turned off on purpose (`WALNUT_NATIVE=0` or the addon's own switch), not a failure. */
  readonly disabled: boolean;
}

export interface AddonSpec<T> {
  readonly name: AddonName;
  /** The package directory (holding `package.json`, `build/`, `prebuilds/`). */
  readonly packageRoot: string;
  /** What the JavaScript fallback does instead, for the warning ("reads files instead of mapping them"). */
  readonly fallback: string;
  /** Throws if a loaded binding is unusable (a wrong check value, say). */
  readonly check?: (binding: T) => void;
}

/**
 * The directory of the package the module at `moduleUrl` belongs to: the nearest one up that
 * holds a package.json. A module sits at one depth in the sources (`src/native/`) and at
 * another in the bundle (`dist/`), so counting levels would be right in one of them only.
 */
export function packageRootOf(moduleUrl: string): string {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

const OFF = new Set(['0', 'off', 'false', 'no']);
const warned = new Set<AddonName>();

/** The channel on which a native addon that did not load (or was switched off) is published. */
export const NATIVE_FALLBACK_CHANNEL = 'walnut:native:fallback';

/** What `walnut:native:fallback` carries; also what `nativeFallbacks()` lists. */
export interface NativeFallbackMessage {
  addon: AddonName;
  reason: string;
}

const fallbackChannel = channel(NATIVE_FALLBACK_CHANNEL);
const fallbacks: NativeFallbackMessage[] = [];

/**
 * Every addon that fell back so far in this process. Addons load while their package is
 * imported, before an ES module application can subscribe to the channel: this is how such
 * an application learns, at any time, what was published before it listened.
 */
export function nativeFallbacks(): readonly NativeFallbackMessage[] {
  return fallbacks.slice();
}

function fellBack(message: NativeFallbackMessage): void {
  fallbacks.push(message);
  if (fallbackChannel.hasSubscribers) fallbackChannel.publish(message);
}

/** `WALNUT_NATIVE` turns every addon off, `WALNUT_<NAME>_NATIVE` one (`0`, `off`, `false`, `no`). */
export function addonSwitch(name: AddonName): string {
  return `WALNUT_${name.toUpperCase().replace('-', '_')}_NATIVE`;
}

/** The setting that turns the addon off (`WALNUT_NATIVE=0`, say), or null when none does. */
export function addonSwitchedOff(name: AddonName): string | null {
  for (const variable of ['WALNUT_NATIVE', addonSwitch(name)]) {
    const raw = readEnv(variable);
    const value = raw?.trim().toLowerCase();
    if (value !== undefined && OFF.has(value)) return `${variable}=${raw}`;
  }
  return null;
}

/**
 * Loads a package's addon the one way all three do: a build compiled at install
 * (`build/Release`) or the prebuilt binary for this platform shipped in the package
 * (`prebuilds/<platform>-<arch>/`), through node-gyp-build. Never throws. A failure that was
 * not asked for is reported once per addon and process with `process.emitWarning` (code
 * `WALNUT_NATIVE_FALLBACK`), in words for the person who installed the package.
 */
export function loadAddon<T>(spec: AddonSpec<T>): AddonLoad<T> {
  const off = addonSwitchedOff(spec.name);
  if (off !== null) {
    fellBack({ addon: spec.name, reason: `turned off by ${off}` });
    return {
      binding: null,
      reason: `the native addon is turned off by ${off}; ${spec.fallback}`,
      disabled: true,
    };
  }
  const require = createRequire(import.meta.url);
  let path: string | undefined;
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    path = nodeGypBuild.resolve(spec.packageRoot);
    const binding = require(path) as T;
    spec.check?.(binding);
    return { binding, reason: `native addon loaded from ${path}`, path, disabled: false };
  } catch (error) {
    const detail = firstLine(error);
    const denied = isDenoPermissionError(error);
    const because = denied
      ? `${runtimeLabel()} withheld a permission it needs: run with ${denoFlags(detail)} (or -A)`
      : detail;
    const reason = `the native addon did not load from ${spec.packageRoot} (${because}); ${spec.fallback}`;
    warnOnce(spec, detail, path, denied);
    fellBack({ addon: spec.name, reason });
    return { binding: null, reason, disabled: false };
  }
}

function warnOnce<T>(
  spec: AddonSpec<T>,
  detail: string,
  path: string | undefined,
  denied: boolean,
): void {
  if (warned.has(spec.name)) return;
  warned.add(spec.name);
  const pkg = `@walnut/${spec.name}`;
  const found = denied
    ? `${runtimeLabel()} did not let it load`
    : path === undefined
      ? 'no build for this system was found'
      : `${path} failed to load`;
  const silence = `set ${addonSwitch(spec.name)}=0 (or WALNUT_NATIVE=0 for every Walnut addon).`;
  // A permission refused is cured by the flag, never by a compiler: the binary is there.
  const remedy = denied
    ? [
        `  ${runtimeLabel()} withheld a permission loading the addon needs: run with`,
        `  ${denoFlags(detail)} (or -A). To use the fallback on purpose and silence this`,
        `  warning, ${silence}`,
      ]
    : [
        `  ${pkg} ships prebuilt binaries for linux-x64 and linux-arm64; elsewhere it compiles`,
        '  one at install, which needs a C compiler, make and Python (node-gyp). To get the',
        `  native path: install those, then run \`npm rebuild ${pkg}\` (pnpm: allow its build`,
        `  script, or \`pnpm rebuild ${pkg}\`). To use the fallback on purpose and silence this`,
        `  warning, ${silence}`,
      ];
  const runtime = denied || currentRuntime().name === 'node' ? '' : ` (on ${runtimeLabel()})`;
  process.emitWarning(
    [
      `${pkg}: ${found}${runtime}, so it runs on its JavaScript fallback: ${spec.fallback}.`,
      `  Cause: ${detail}`,
      ...remedy,
    ].join('\n'),
    { code: 'WALNUT_NATIVE_FALLBACK' },
  );
}

/**
 * The Deno flags that let the addon load: the one Deno's refusal names ("run again with the
 * --allow-env flag": node-gyp-build reads the environment first), and --allow-ffi, which
 * loading any addon needs.
 */
function denoFlags(refusal: string): string {
  const named = /--allow-[a-z-]+/.exec(refusal)?.[0];
  return named === undefined || named === '--allow-ffi'
    ? '--allow-ffi'
    : `${named} and --allow-ffi`;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).trim();
}
