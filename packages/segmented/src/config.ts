import {
  badArgument,
  type Compression,
  type CompressionChoice,
  checkOptionKeys,
  clockOption,
  compressionSetting,
  DEFAULT_MAX_RECORD_SIZE,
  flagOption,
  integerOption,
  KeyRing,
  keyRingOption,
  MAX_FRAME_BODY,
  type OptionSpec,
  oneOfOption,
  pathOption,
} from '@walnut/codec';
import { missingStorageIoMethod, type StorageIo } from '@walnut/storage-io';

export type RecoveryMode = 'strict' | 'truncate-tail' | 'salvage';

/**
 * What open() reads: 'newest' scans the newest segment and checks the others' names and
 * headers (readers check their frames as they hand records out); 'all' scans every segment.
 */
export type VerifyMode = 'newest' | 'all';

export interface SegmentedWalConfig {
  /** The log directory (created by a writer if missing): a path, or a `file:` URL. */
  dir: string | URL;
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
  /**
   * Compress frame bodies (a batch, or a record of at least MIN_COMPRESSED_BODY bytes) with
   * this codec, `'zstd'` or `{ codec: 'zstd', level }` (levels 1..19, default 1); a body
   * that does not shrink is written as it is. Segments written with it carry the header
   * flag `compressed`. Writing needs a runtime whose node:zlib has zstd (Node 22.15 on);
   * every runtime reads compressed logs. Default: off (decision 0118).
   */
  compression?: CompressionChoice;
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
export type ResolvedConfig = Required<
  Omit<SegmentedWalConfig, Undefaulted | 'dir' | 'compression'>
> & {
  [K in Undefaulted]: SegmentedWalConfig[K] | undefined;
} & {
  /** The directory as a path. */
  dir: string;
  /** The codec and level, or undefined when off. */
  compression: Compression | undefined;
};

const MIB = 1024 * 1024;
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

const bytes = (field: keyof typeof CONFIG_LIMITS, unit = ' (bytes)') => {
  const [min, max] = CONFIG_LIMITS[field];
  return integerOption(min, max, unit);
};

const storageIo = (value: unknown, name: string): StorageIo => {
  if (typeof value !== 'object' || value === null) badArgument(name, 'a StorageIo', value);
  const missing = missingStorageIoMethod(value);
  if (missing !== null) badArgument(name, `a StorageIo (it has no ${missing}() method)`, value);
  return value as StorageIo;
};

/**
 * Every field of SegmentedWalConfig but `dir`, declared once: its default and its check, in
 * the order errors list them. A Record over the interface's keys, so the compiler rejects a
 * field added to one and not the other. The Wal's options take these checks and defaults for
 * the settings it passes on, and the package READMEs' tables are held to them by tests.
 */
export const CONFIG_OPTIONS: {
  readonly [K in Exclude<keyof SegmentedWalConfig, 'dir'>]-?: OptionSpec<ResolvedConfig[K]>;
} = {
  segmentTargetSize: { default: 64 * MIB, check: bytes('segmentTargetSize') },
  io: { default: undefined, check: storageIo },
  preallocate: { default: false, check: flagOption },
  zeroFillAhead: { default: 0, check: bytes('zeroFillAhead', ' (bytes; 0 = off)') },
  writebackAhead: { default: 8 * MIB, check: bytes('writebackAhead', ' (bytes; 0 = off)') },
  maxRecordSize: { default: DEFAULT_MAX_RECORD_SIZE, check: bytes('maxRecordSize') },
  recovery: {
    default: 'truncate-tail',
    check: oneOfOption<RecoveryMode>('strict', 'truncate-tail', 'salvage'),
  },
  verify: { default: 'newest', check: oneOfOption<VerifyMode>('newest', 'all') },
  readOnly: { default: false, check: flagOption },
  encryption: { default: undefined, check: keyRingOption },
  compression: { default: undefined, check: compressionSetting },
  writeBufferSize: { default: MIB, check: bytes('writeBufferSize') },
  directIo: { default: false, check: flagOption },
  allowOtherFiles: { default: false, check: flagOption },
  clock: { default: Date.now, check: clockOption },
};
const KNOWN_KEYS: readonly string[] = ['dir', ...Object.keys(CONFIG_OPTIONS)];

export const DEFAULT_SEGMENT_TARGET_SIZE = CONFIG_OPTIONS.segmentTargetSize.default;
export const DEFAULT_WRITE_BUFFER_SIZE = CONFIG_OPTIONS.writeBufferSize.default;
export const DEFAULT_WRITEBACK_AHEAD = CONFIG_OPTIONS.writebackAhead.default;

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
  const resolved: Record<string, unknown> = { dir: pathOption(c.dir, 'config.dir') };
  for (const [key, spec] of Object.entries(CONFIG_OPTIONS) as [string, OptionSpec<unknown>][]) {
    const value = c[key];
    resolved[key] = value === undefined ? spec.default : spec.check(value, `config.${key}`);
  }
  return resolved as ResolvedConfig;
}
