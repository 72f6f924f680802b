import { channel } from 'node:diagnostics_channel';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * Every function of a binding's type, each marked `true`: what the loader requires of a loaded
 * binary before using it, listed beside the type that declares the binding, so that a function
 * added to the type and not to the list fails to compile.
 */
export type AddonFunctions<T> = {
  readonly [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]-?: true;
};

export interface AddonSpec<T> {
  readonly name: AddonName;
  /**
   * Where the package is: the URL of the loading module (`import.meta.url`), from which the
   * loader finds the package's directory, or (tests) that directory itself.
   */
  readonly from: { readonly moduleUrl: string | undefined } | { readonly packageRoot: string };
  /** What the JavaScript fallback does instead, for the warning ("reads files instead of mapping them"). */
  readonly fallback: string;
  /** The functions the binding must have: a binary without them is not this package's addon. */
  readonly functions: AddonFunctions<T>;
  /** Throws if a binding that has them is still unusable (a wrong check value, say). */
  readonly check?: (binding: T) => void;
}

/** Where a package's directory is, or why that is not known. */
type PackageLocation = { readonly root: string } | { readonly unknown: string };

/**
 * The directory of `@walnut/<name>` when the module at `moduleUrl` is one of its files: the
 * nearest directory up holding a package.json, if that package.json names the package. A module
 * sits at one depth in the sources (`src/native/`) and at another in `dist/`, so counting levels
 * would be right in one of them only; and a bundle carries the module into an application,
 * whose package.json (or none) is the nearest, and whose directory holds no Walnut addon.
 */
function locatePackage(name: AddonName, moduleUrl: string | undefined): PackageLocation {
  // A CommonJS bundle empties import.meta, and a bundle for the web has no file: URL.
  if (moduleUrl === undefined || !moduleUrl.startsWith('file:'))
    return {
      unknown: `the module's URL (import.meta.url) is ${moduleUrl === undefined ? 'empty, as in a CommonJS bundle' : `not a file (${moduleUrl})`}`,
    };
  const file = fileURLToPath(moduleUrl);
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      if (packageName(manifest) === `@walnut/${name}`) return { root: dir };
      return {
        unknown: `it runs from ${file}, which belongs to ${manifest}, not to @walnut/${name}`,
      };
    }
    if (dirname(dir) === dir)
      return { unknown: `it runs from ${file}, and no package.json is above it` };
  }
}

function packageName(manifest: string): unknown {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
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

// Once per addon and reason: mmap-reader asks again while its switch is set (it is read per reader).
function fellBack(message: NativeFallbackMessage): void {
  if (fallbacks.some((f) => f.addon === message.addon && f.reason === message.reason)) return;
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

/** How far loading got before it failed, which decides what the warning advises. */
type Stage = 'locate' | 'resolver' | 'search' | 'load' | 'check';

/**
 * Loads a package's addon the one way all three do: a build compiled at install
 * (`build/Release`) or the prebuilt binary for this platform shipped in the package
 * (`prebuilds/<platform>-<arch>/`), through node-gyp-build, from the package's own directory
 * only. Never throws. A failure that was not asked for is reported once per addon and process
 * with `process.emitWarning` (code `WALNUT_NATIVE_FALLBACK`), in words for the person who
 * installed the package: what failed, where it looked, and what helps.
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
  const location =
    'packageRoot' in spec.from
      ? { root: spec.from.packageRoot }
      : locatePackage(spec.name, spec.from.moduleUrl);
  if ('unknown' in location) {
    const reason = `the native addon was not looked for: @walnut/${spec.name}'s directory is unknown (${location.unknown}; bundled? mark @walnut/* as external); ${spec.fallback}`;
    return failed(spec, reason, { stage: 'locate', detail: location.unknown, denied: false });
  }
  const root = location.root;
  let stage: Stage = 'resolver';
  let path: string | undefined;
  try {
    // node-gyp-build is this loader's dependency; it finds the binary in the package's directory.
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    stage = 'search';
    path = nodeGypBuild.resolve(root);
    stage = 'load';
    const binding: unknown = require(path);
    stage = 'check';
    requireFunctions(spec, binding);
    spec.check?.(binding);
    return { binding, reason: `native addon loaded from ${path}`, path, disabled: false };
  } catch (error) {
    const detail = firstLine(error);
    const denied = isDenoPermissionError(error);
    const because = denied
      ? `${runtimeLabel()} withheld a permission it needs: run with ${denoFlags(detail)} (or -A)`
      : detail;
    const reason = `the native addon did not load from ${root} (${because}); ${spec.fallback}`;
    return failed(spec, reason, { stage, detail, denied, root, path });
  }
}

function requireFunctions<T>(spec: AddonSpec<T>, binding: unknown): asserts binding is T {
  const exports = (binding ?? {}) as Record<string, unknown>;
  const missing = Object.keys(spec.functions).filter((key) => typeof exports[key] !== 'function');
  if (missing.length > 0)
    throw new Error(
      `it lacks ${missing.map((key) => `${key}()`).join(', ')}: it is not @walnut/${spec.name}'s addon`,
    );
}

interface Failure {
  readonly stage: Stage;
  /** The first line of what failed. */
  readonly detail: string;
  readonly denied: boolean;
  /** Where the loader looked, once it knew. */
  readonly root?: string;
  /** The binary node-gyp-build chose, once it had. */
  readonly path?: string | undefined;
}

function failed<T>(spec: AddonSpec<T>, reason: string, failure: Failure): AddonLoad<T> {
  warnOnce(spec, failure);
  fellBack({ addon: spec.name, reason });
  return { binding: null, reason, disabled: false };
}

function warnOnce<T>(spec: AddonSpec<T>, failure: Failure): void {
  if (warned.has(spec.name)) return;
  warned.add(spec.name);
  const { stage, detail, denied, root, path } = failure;
  const pkg = `@walnut/${spec.name}`;
  const found: Record<Stage, string> = {
    locate: 'could not tell where its package is (bundled?)',
    resolver: 'could not load node-gyp-build, which finds its addon',
    search: `found no build for ${process.platform}-${process.arch} in ${root}`,
    load: `could not load ${path}`,
    check: `loaded ${path}, which is not a working ${pkg} addon`,
  };
  const silence = [
    'To use the fallback on purpose and silence this warning, set',
    `${addonSwitch(spec.name)}=0 (or WALNUT_NATIVE=0 for every Walnut addon).`,
  ];
  const compile = [
    `${pkg} ships prebuilt binaries for linux-x64 and linux-arm64 (codec and storage-io also for`,
    'win32-x64); elsewhere it compiles',
    'one at install, which needs a C compiler, make and Python (node-gyp). To get the native',
    `path: install those, then run \`npm rebuild ${pkg}\` (pnpm: allow its build script, or`,
    `\`pnpm rebuild ${pkg}\`).`,
  ];
  // A permission refused is cured by the flag, a bundle by leaving the package out of it, a
  // broken installation by installing again: a compiler helps none of them.
  const remedy: Record<Stage, string[]> = {
    locate: [
      'A bundle that inlines Walnut leaves its addons behind: each loads only from its own',
      `package (node_modules/${pkg}). Mark @walnut/* as external in the bundler`,
      "(esbuild: --external:'@walnut/*') and deploy node_modules with the bundle.",
    ],
    resolver: [
      "@walnut/codec's dependency node-gyp-build is missing: install again (npm install,",
      'pnpm install).',
    ],
    search: compile,
    load: compile,
    check: [`Install ${pkg} again; if that does not help, compile it:`, ...compile],
  };
  const advice = denied
    ? [
        `${runtimeLabel()} withheld a permission loading the addon needs: run with`,
        `${denoFlags(detail)} (or -A).`,
      ]
    : remedy[stage];
  const what = denied ? `${runtimeLabel()} did not let it load` : found[stage];
  const runtime = denied || currentRuntime().name === 'node' ? '' : ` (on ${runtimeLabel()})`;
  process.emitWarning(
    [
      `${pkg}: ${what}${runtime}, so it runs on its JavaScript fallback: ${spec.fallback}.`,
      `  Cause: ${detail}`,
      ...[...advice, ...silence].map((line) => `  ${line}`),
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
