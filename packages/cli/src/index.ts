/**
 * The walnut commands as functions, for scripts and tests. The `walnut` bin is a thin
 * wrapper around `runCli`.
 */
export { type BenchOptions, type BenchResult, benchCommand } from './commands/bench.js';
export { type DumpOptions, dumpCommand } from './commands/dump.js';
export { type InspectOptions, inspectCommand } from './commands/inspect.js';
export { type RepairOptions, repairCommand } from './commands/repair.js';
export { type TailOptions, tailCommand } from './commands/tail.js';
export { type VerifyOptions, verifyCommand } from './commands/verify.js';
export { type DemoOptions, demoCommand } from './demo/demo.js';
export { ExitCode } from './exit-codes.js';
export { type CheckOptions, checkLog, type Finding, type LogCheck } from './logdir/check.js';
export type { Output } from './output.js';
export { runCli } from './program.js';
