// The part of vitest's API the library's test files use, and a runner for it, for Windows Node
// under Wine, where vitest itself cannot start (decision 0009). build.mjs bundles this file,
// with vitest's own `expect` (chai and @vitest/expect) and spies, into the one `vitest.mjs`
// every bundled test file imports; run.mjs then runs the files through runFile below.
// What vitest does and this does not: module mocking and a fresh module graph per
// vi.resetModules (a bundle is one graph), snapshots, concurrency. A file that needs one of
// those is listed in .ci/runtime-exclusions.txt; here they throw, so nothing passes by accident.
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  getState,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
} from '@vitest/expect';
import * as spies from '@vitest/spy';
import * as chai from 'chai';

export { expectTypeOf } from 'expect-type';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = (value, message) => {
  setState({ assertionCalls: (getState(expect)?.assertionCalls ?? 0) + 1 }, expect);
  return chai.expect(value, message);
};
Object.assign(expect, chai.expect, globalThis[ASYMMETRIC_MATCHERS_OBJECT]);
expect.getState = () => getState(expect);
expect.setState = (state) => setState(state, expect);
expect.unreachable = (message) => {
  throw new chai.AssertionError(`expected not to be reached${message ? `: ${message}` : ''}`);
};
setState(
  { assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null },
  expect,
);

const unsupported = (what) => () => {
  throw new Error(
    `${what} is not supported by the Wine test runner (.ci/wine-tests): list the file in .ci/runtime-exclusions.txt`,
  );
};
const stubbedEnv = new Map();
const stubbedGlobals = new Map();
export const vi = {
  fn: spies.fn,
  spyOn: spies.spyOn,
  mocked: (value) => value,
  restoreAllMocks() {
    for (const mock of spies.mocks) mock.mockRestore();
  },
  stubEnv(name, value) {
    if (!stubbedEnv.has(name)) stubbedEnv.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  },
  unstubAllEnvs() {
    for (const [name, value] of stubbedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    stubbedEnv.clear();
  },
  stubGlobal(name, value) {
    if (!stubbedGlobals.has(name))
      stubbedGlobals.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
    Object.defineProperty(globalThis, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: true,
    });
  },
  unstubAllGlobals() {
    for (const [name, descriptor] of stubbedGlobals) {
      if (descriptor === undefined) delete globalThis[name];
      else Object.defineProperty(globalThis, name, descriptor);
    }
    stubbedGlobals.clear();
  },
  mock: unsupported('vi.mock'),
  doMock: unsupported('vi.doMock'),
  doUnmock: unsupported('vi.doUnmock'),
  hoisted: unsupported('vi.hoisted'),
  resetModules: unsupported('vi.resetModules'),
};

// ---- collecting: describe/it build a tree while a file's bundle is imported ----
const newSuite = (name, parent, skip = false) => ({
  name,
  parent,
  skip,
  children: [],
  hooks: { beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] },
});
let current = newSuite('', null);

// vitest's title formats: printf-style %s %d %i %j %o %% from the case's values, $name from an object case.
function title(template, args, index) {
  let i = 0;
  let out = template.replace(/%[sdijo%#]/g, (spec) => {
    if (spec === '%%') return '%';
    if (spec === '%#') return String(index);
    const value = args[i++];
    if (spec === '%d' || spec === '%i') return String(Number(value));
    if (spec === '%j' || spec === '%o') return JSON.stringify(value);
    return typeof value === 'string' ? value : String(value);
  });
  if (args.length === 1 && args[0] !== null && typeof args[0] === 'object') {
    out = out.replace(/\$([\w.]+)/g, (whole, key) =>
      key in args[0] ? String(args[0][key]) : whole,
    );
  }
  return out;
}
// (name, fn, timeout) or (name, options, fn)
function parse(a, b) {
  if (typeof a === 'function') return { fn: a, timeout: typeof b === 'number' ? b : b?.timeout };
  return { fn: b, timeout: a?.timeout };
}
function addTest(name, a, b, skip) {
  const { fn, timeout } = parse(a, b);
  current.children.push({ name, fn, timeout, skip, parent: current });
}
function addSuite(name, a, b, skip) {
  const { fn } = parse(a, b);
  const suite = newSuite(name, current, skip);
  current.children.push(suite);
  const outer = current;
  current = suite;
  try {
    // A describe body that returns a promise is not awaited by vitest either; collect it as vitest does.
    fn?.();
  } finally {
    current = outer;
  }
}
function api(add) {
  const f = (name, a, b) => add(name, a, b, false);
  f.skip = (name, a, b) => add(name, a, b, true);
  f.skipIf = (condition) => (name, a, b) => add(name, a, b, Boolean(condition));
  f.runIf = (condition) => (name, a, b) => add(name, a, b, !condition);
  f.each = (cases) => (name, a, b) => {
    cases.forEach((c, index) => {
      const args = Array.isArray(c) ? c : [c];
      const { fn, timeout } = parse(a, b);
      add(title(name, args, index), (...context) => fn(...args, ...context), timeout, false);
    });
  };
  f.only = unsupported('.only');
  f.concurrent = unsupported('.concurrent');
  return f;
}
export const it = api(addTest);
export const test = it;
export const describe = api(addSuite);
export const suite = describe;
export const beforeAll = (fn) => current.hooks.beforeAll.push(fn);
export const afterAll = (fn) => current.hooks.afterAll.push(fn);
export const beforeEach = (fn) => current.hooks.beforeEach.push(fn);
export const afterEach = (fn) => current.hooks.afterEach.push(fn);

// ---- running ----
let scale = 1;
const DEFAULT_TEST_MS = 20_000; // vitest.shared.ts's testTimeout
const DEFAULT_HOOK_MS = 10_000; // vitest's hookTimeout

async function withTimeout(what, ms, call) {
  let timer;
  const limit = ms * scale;
  try {
    return await Promise.race([
      call(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out in ${limit} ms`)), limit);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function fullName(node) {
  const names = [];
  for (let n = node; n?.parent; n = n.parent) names.unshift(n.name);
  return names.join(' ');
}
function ancestors(node) {
  const list = [];
  for (let n = node.parent; n; n = n.parent) list.unshift(n);
  return list;
}
const errorText = (error) => String(error?.stack ?? error);

async function runSuite(suite, results, skipped) {
  const skip = skipped || suite.skip;
  const hasTests = (s) => s.children.some((c) => (c.children ? hasTests(c) : !c.skip));
  let failedBeforeAll = null;
  if (!skip && hasTests(suite)) {
    for (const hook of suite.hooks.beforeAll) {
      try {
        await withTimeout('beforeAll', DEFAULT_HOOK_MS, () => hook());
      } catch (error) {
        failedBeforeAll = errorText(error);
        break;
      }
    }
  }
  for (const child of suite.children) {
    if (child.children) {
      await runSuite(child, results, skip || failedBeforeAll !== null);
      continue;
    }
    const entry = {
      title: child.name,
      fullName: fullName(child),
      status: 'passed',
      failureMessages: [],
      duration: 0,
    };
    results.push(entry);
    if (skip || child.skip || results.excluded.has(entry.fullName)) {
      entry.status = 'skipped';
      continue;
    }
    if (failedBeforeAll !== null) {
      entry.status = 'failed';
      entry.failureMessages.push(`beforeAll failed: ${failedBeforeAll}`);
      continue;
    }
    const started = performance.now();
    const failed = [];
    const context = {
      task: { name: child.name, file: { name: results.file } },
      onTestFailed: (fn) => failed.push(fn),
      onTestFinished: () => unsupported('onTestFinished')(),
      expect,
      skip: unsupported('context.skip'),
    };
    const chain = ancestors(child);
    const record = (error) => {
      entry.status = 'failed';
      entry.failureMessages.push(errorText(error));
    };
    try {
      for (const s of chain)
        for (const hook of s.hooks.beforeEach)
          await withTimeout('beforeEach', DEFAULT_HOOK_MS, () => hook(context));
      await withTimeout('test', child.timeout ?? DEFAULT_TEST_MS, () => child.fn?.(context));
    } catch (error) {
      record(error);
    }
    for (const s of chain.reverse()) {
      for (const hook of [...s.hooks.afterEach].reverse()) {
        try {
          await withTimeout('afterEach', DEFAULT_HOOK_MS, () => hook(context));
        } catch (error) {
          record(error);
        }
      }
    }
    if (entry.status === 'failed') for (const fn of failed) await fn();
    entry.duration = Math.round(performance.now() - started);
  }
  if (!skip && hasTests(suite)) {
    for (const hook of [...suite.hooks.afterAll].reverse()) {
      try {
        await withTimeout('afterAll', DEFAULT_HOOK_MS, () => hook());
      } catch (error) {
        results.push({
          title: 'afterAll',
          fullName: `${fullName(suite)} afterAll`.trim(),
          status: 'failed',
          failureMessages: [errorText(error)],
        });
      }
    }
  }
}

/**
 * Imports one bundled test file (which collects its tests) and runs them in order, hooks
 * around them as vitest orders them; timeouts are vitest's times `timeScale` (Wine is slower).
 * Tests named in `excluded` (full names) are skipped. Returns vitest's JSON shape for one
 * file: { name, status, message, assertionResults }.
 */
export async function runFile(name, url, timeScale, excluded = new Set()) {
  scale = timeScale;
  current = newSuite('', null);
  const results = [];
  results.file = name;
  results.excluded = excluded;
  // vitest gives each file a fresh worker: what one file sets in process.env stays with it.
  const env = { ...process.env };
  try {
    await import(url);
    await runSuite(current, results, false);
  } catch (error) {
    return { name, status: 'failed', message: errorText(error), assertionResults: results };
  } finally {
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
    for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
    Object.assign(process.env, env);
  }
  const status = results.some((r) => r.status === 'failed') ? 'failed' : 'passed';
  return { name, status, message: '', assertionResults: results };
}
