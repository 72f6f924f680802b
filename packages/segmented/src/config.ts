import {
  badArgument,
  checkOptionKeys,
  DEFAULT_MAX_RECORD_SIZE,
  KeyRing,
  MAX_FRAME_BODY,
} from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';

export type RecoveryMode = 'strict' | 'truncate-tail' | 'salvage';

/**
 * What open() reads: 'newest' scans the newest segment and checks the others' names and
 * headers (readers check their frames as they hand records out); 'all' scans every segment.
 */
export type VerifyMode = 'newest' | 'all';

export interface SegmentedWalConfig {
  /** The log directory (created by a writer if missing). */
  dir: string;
  /** A segment is sealed and a new one started once it holds this many bytes. Default 64 MiB. */
  segmentTargetSize?: number;
  /** The StorageIo to use. Default: `createStorageIo({ backend: 'auto' })`, closed by `close()`. */
  io?: StorageIo;
  /** Reserve new segments to `segmentTargetSize` with fallocate; zero-filled space reads as end of log. */
  preallocate?: boolean;
  /**
   * Keep this many bytes past the writer zero-filled and synced ahead of time, so that the
   * fdatasync after a small append commits no file-system metadata (about 1.7x more
   * fdatasyncs per second on ext4 here). Costs writing every byte twice; for logs synced
   * after small appends. Default 0 (off).
   */
  zeroFillAhead?: number;
  /**
   * Start the kernel's writeback (sync_file_range) whenever this many bytes were written
   * and not yet synced, so a log appended in bulk reaches the device while the writer goes
   * on and its next fdatasync has little left to write. A hint: it makes nothing durable.
   * Default 8 MiB; 0 turns it off.
   */
  writebackAhead?: number;
  /** Largest payload + meta of one record (and of one batch's records together). */
  maxRecordSize?: number;
  /** What open() does with damage it finds. Default 'truncate-tail'. */
  recovery?: RecoveryMode;
  /**
   * How much of the log open() reads. Default 'newest': the newest segment is scanned, and
   * damage in a sealed one is WAL_CORRUPT from the first reader that reaches it, before it
   * hands out the damaged record or any later one. 'all' finds it at open instead, at the
   * cost of reading the whole log (docs/decisions/0311). Salvage always reads everything.
   */
  verify?: VerifyMode;
  /** Open without the lock and never modify anything. */
  readOnly?: boolean;
  /** Encrypt new segments with this key ring (and decrypt old ones). */
  encryption?: KeyRing;
  /** Records are encoded into buffers of this size; a full buffer is submitted as one write. Default 1 MiB. */
  writeBufferSize?: number;
  /**
   * Write segments with O_DIRECT, past the page cache: every write covers whole 4 KiB blocks
   * (a partial last block is rewritten by the next write), so an fdatasync only has to
   * flush the device's cache. Where it is impossible (no native addon, a file system such
   * as tmpfs that refuses O_DIRECT) the log is written through the page cache and
   * `stats().directIo` says why. Default false.
   */
  directIo?: boolean;
  /**
   * Create the log in a directory that holds other files. Without it, a writer or reader
   * refuses a non-empty directory that holds no log (WAL_NOT_A_LOG, naming what it found)
   * rather than writing its lock and first segment among someone else's files. Default false.
   */
  allowOtherFiles?: boolean;
  /**
   * The wall clock records are stamped with, in ms since the epoch (default `Date.now`). The
   * log never stamps a record earlier than the one before it, whatever this returns (a
   * value that is not a finite number, or one that steps back, leaves the time where it is).
   * For tests and for an application with a clock of its own.
   */
  clock?: () => number;
}

/** Fields that stay optional once resolved: they have no default. */
type Undefaulted = 'io' | 'encryption';

/** A config with every default filled in: derived from SegmentedWalConfig, never restated. */
export type ResolvedConfig = Required<Omit<SegmentedWalConfig, Undefaulted>> & {
  [K in Undefaulted]: SegmentedWalConfig[K] | undefined;
};

export const DEFAULT_SEGMENT_TARGET_SIZE = 64 * 1024 * 1024;
export const DEFAULT_WRITE_BUFFER_SIZE = 1024 * 1024;
export const DEFAULT_WRITEBACK_AHEAD = 8 * 1024 * 1024;
/** Smallest segment target: a header plus a few frames; smaller only multiplies files. */
export const MIN_SEGMENT_TARGET_SIZE = 4096;
/** Segment offsets must stay exact in a double and within what every backend can address. */
export const MAX_SEGMENT_TARGET_SIZE = 2 ** 40;
export const MIN_WRITE_BUFFER_SIZE = 4096;
export const MAX_WRITE_BUFFER_SIZE = 1 << 30;
/** Room a record frame needs beyond payload + meta: frame and record headers, time, routing, meta length, cipher. */
const MAX_RECORD_OVERHEAD = 8 + 12 + 4 + 8 + 4 + 8 + 4 + 32;

/**
 * The range each numeric field accepts, inclusive: the one place these limits live, for
 * `resolveConfig` and for layers above that check the same settings under their own names.
 */
export const CONFIG_LIMITS = {
  segmentTargetSize: [MIN_SEGMENT_TARGET_SIZE, MAX_SEGMENT_TARGET_SIZE],
  writeBufferSize: [MIN_WRITE_BUFFER_SIZE, MAX_WRITE_BUFFER_SIZE],
  maxRecordSize: [1, MAX_FRAME_BODY - MAX_RECORD_OVERHEAD],
  zeroFillAhead: [0, 1 << 30],
  writebackAhead: [0, 2 ** 40],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * Every field of SegmentedWalConfig, in the order errors list them: a Record over its keys,
 * so the compiler rejects a field added to the interface and not here (or the reverse).
 */
const FIELDS: Record<keyof SegmentedWalConfig, true> = {
  dir: true,
  segmentTargetSize: true,
  io: true,
  preallocate: true,
  zeroFillAhead: true,
  writebackAhead: true,
  maxRecordSize: true,
  recovery: true,
  verify: true,
  readOnly: true,
  encryption: true,
  writeBufferSize: true,
  directIo: true,
  allowOtherFiles: true,
  clock: true,
};
const KNOWN_KEYS: readonly string[] = Object.keys(FIELDS);

const IO_METHODS = [
  'open',
  'submitOpen',
  'close',
  'size',
  'truncate',
  'mkdir',
  'readdir',
  'stat',
  'rename',
  'unlink',
  'syncDirectory',
  'lock',
  'submitWrite',
  'submitDatasync',
  'submitWriteback',
  'flush',
  'completion',
  'write',
  'read',
  'datasync',
  'fsync',
  'fallocate',
  'closeIo',
] as const;

function optionalInteger(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    badArgument(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function optionalBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') badArgument(name, 'a boolean', value);
  return value;
}

export function isKeyRing(value: unknown): value is KeyRing {
  return value instanceof KeyRing;
}

/** Checks every field of a user config and fills in the defaults (WAL_BAD_ARGUMENT on any mistake). */
export function resolveConfig(config: unknown): ResolvedConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    badArgument('config', 'an object with at least { dir }', config);
  }
  const c = config as Record<string, unknown>;
  checkOptionKeys(c, KNOWN_KEYS, 'SegmentedWal.open()');
  if (typeof c.dir !== 'string' || c.dir.length === 0 || c.dir.includes('\0')) {
    badArgument('config.dir', 'a non-empty path string', c.dir);
  }
  const segmentTargetSize = optionalInteger(
    'config.segmentTargetSize',
    c.segmentTargetSize,
    DEFAULT_SEGMENT_TARGET_SIZE,
    ...CONFIG_LIMITS.segmentTargetSize,
  );
  const writeBufferSize = optionalInteger(
    'config.writeBufferSize',
    c.writeBufferSize,
    DEFAULT_WRITE_BUFFER_SIZE,
    ...CONFIG_LIMITS.writeBufferSize,
  );
  const maxRecordSize = optionalInteger(
    'config.maxRecordSize',
    c.maxRecordSize,
    DEFAULT_MAX_RECORD_SIZE,
    ...CONFIG_LIMITS.maxRecordSize,
  );
  if (c.io !== undefined) {
    const io = c.io as Record<string, unknown> | null;
    if (io === null || typeof io !== 'object') badArgument('config.io', 'a StorageIo', c.io);
    const missing = IO_METHODS.find((m) => typeof io[m] !== 'function');
    if (missing !== undefined) {
      badArgument('config.io', `a StorageIo (it has no ${missing}() method)`, c.io);
    }
  }
  let recovery: RecoveryMode = 'truncate-tail';
  if (c.recovery !== undefined) {
    if (c.recovery !== 'strict' && c.recovery !== 'truncate-tail' && c.recovery !== 'salvage') {
      badArgument('config.recovery', "'strict', 'truncate-tail' or 'salvage'", c.recovery);
    }
    recovery = c.recovery;
  }
  if (c.verify !== undefined && c.verify !== 'newest' && c.verify !== 'all') {
    badArgument('config.verify', "'newest' or 'all'", c.verify);
  }
  const verify: VerifyMode = c.verify === 'all' ? 'all' : 'newest';
  if (c.encryption !== undefined && !isKeyRing(c.encryption)) {
    badArgument('config.encryption', 'a KeyRing from @walnut/codec', c.encryption);
  }
  if (c.clock !== undefined && typeof c.clock !== 'function') {
    badArgument('config.clock', 'a function returning ms since the epoch', c.clock);
  }
  return {
    dir: c.dir,
    segmentTargetSize,
    io: c.io as StorageIo | undefined,
    preallocate: optionalBoolean('config.preallocate', c.preallocate),
    zeroFillAhead: optionalInteger(
      'config.zeroFillAhead',
      c.zeroFillAhead,
      0,
      ...CONFIG_LIMITS.zeroFillAhead,
    ),
    writebackAhead: optionalInteger(
      'config.writebackAhead',
      c.writebackAhead,
      DEFAULT_WRITEBACK_AHEAD,
      ...CONFIG_LIMITS.writebackAhead,
    ),
    maxRecordSize,
    recovery,
    verify,
    readOnly: optionalBoolean('config.readOnly', c.readOnly),
    encryption: c.encryption as KeyRing | undefined,
    writeBufferSize,
    directIo: optionalBoolean('config.directIo', c.directIo),
    allowOtherFiles: optionalBoolean('config.allowOtherFiles', c.allowOtherFiles),
    clock: (c.clock as (() => number) | undefined) ?? Date.now,
  };
}
