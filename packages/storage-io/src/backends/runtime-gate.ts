import { currentRuntime, type Runtime, runtimeLabel } from '@walnut/codec';

/**
 * Why io_uring must not even be tried in this runtime, or null. Completions reach JavaScript
 * through libuv's uv_poll (decision 0202), which only Node runs: Bun 1.4 ends the process
 * on uv_poll_init ("unsupported uv function", exit 134, nothing to catch), and Deno 2.9
 * accepts the poll but never calls it back, so the first fdatasync waits for ever. Neither
 * failure can be caught after the fact, so they are ruled out before the addon's ring code
 * runs; everywhere else `proveIoUring` checks that a completion really comes back.
 */
export function ioUringRuntimeGate(runtime: Runtime = currentRuntime()): string | null {
  if (runtime.name === 'bun') {
    return `${runtimeLabel(runtime)} does not implement libuv's uv_poll, through which io_uring completions reach JavaScript (it ends the process on uv_poll_init)`;
  }
  if (runtime.name === 'deno') {
    return `${runtimeLabel(runtime)} does not run libuv's uv_poll callbacks, through which io_uring completions reach JavaScript (a write or fdatasync would never complete)`;
  }
  return null;
}
