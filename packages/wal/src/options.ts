import {
  badArgument,
  type CompressionChoice,
  integerOption,
  type KeyRing,
  type OptionCheck,
  type OptionSpec,
  oneOfOption,
  unknownOption,
} from '@walnut/codec';
import { CONFIG_OPTIONS, type RecoveryMode, type VerifyMode } from '@walnut/segmented';
import {
  checkIoUringConfig,
  checkStorageChoice,
  type IoUringConfig,
  type StorageChoice,
  type StorageIo,
} from '@walnut/storage-io';
import type { EngineConfig, SegmentOpener } from './engine.js';

/**
 * When `append` resolves:
 * - `'sync'` (default): after an fdatasync that covers the record.
 * - `'flush'`: after the record's write reached the OS (survives a process crash, not a
 *   power loss).
 * - `'none'`: as soon as it is queued in memory.
 * - `'interval'`: as soon as it is queued; a background fdatasync runs every
 *   `syncIntervalMs`.
 */
export type Durability = 'sync' | 'flush' | 'none' | 'interval';
/** What `append` does when the queue is full: wait (`'block'`) or fail (`'error'`). */
export type Backpressure = 'block' | 'error';

/** Everything `WalBuilder` can set, as one object (`Wal.open(dir).options({...})`). */
export interface WalOptions {
  /** A segment is sealed and the next one started at this size. Default 64 MiB. */
  segmentSize?: number | undefined;
  /** Default `'sync'`. */
  durability?: Durability | undefined;
  /** For `durability: 'interval'`. Default 100 ms. */
  syncIntervalMs?: number | undefined;
  /** Payload+meta bytes appended but not yet committed before backpressure applies. Default 8 MiB. */
  maxQueueBytes?: number | undefined;
  /** Default `'block'`. */
  backpressure?: Backpressure | undefined;
  /** A StorageIo (never closed by the Wal) or a backend name. Default `'auto'`. */
  storageIo?: StorageChoice | undefined;
  /** io_uring options when the Wal creates the io_uring backend (refused with a StorageIo of yours). */
  ioUring?: IoUringConfig | undefined;
  /** Encrypt new segments (AES-256-GCM) with this ring; old segments are read with it too. */
  encryption?: KeyRing | undefined;
  /**
   * Compress frame bodies: `'zstd'` or `{ codec: 'zstd', level }` (1..19, default 1). A
   * batch, or a record of 128 bytes or more, is written compressed when that makes it
   * smaller. Writing needs Node 22.15 or later (node:zlib's zstd); every supported runtime
   * reads compressed logs. Default: off.
   */
  compression?: CompressionChoice | undefined;
  /** What opening does with damage. Default `'truncate-tail'`. */
  recovery?: RecoveryMode | undefined;
  /**
   * How much of the log opening reads. Default `'newest'`: the newest segment; damage in a
   * sealed one is WAL_CORRUPT from the replay, iterator or tail that reaches it, before the
   * damaged record or any later one. `'all'` reads every segment at open, so damage anywhere
   * is found before a record is handed out (decision 0311).
   */
  verify?: VerifyMode | undefined;
  /**
   * Largest payload+meta of one new record. Default 16 MiB. It limits appends only: reading
   * accepts every record the format allows, so lowering it never hides one written before.
   */
  maxRecordSize?: number | undefined;
  /** Wait this long before starting a group commit, to gather more records. Default 0. */
  maxGroupWaitMs?: number | undefined;
  /** Reserve each new segment's space up front. Default false. */
  preallocate?: boolean | undefined;
  /** Size of the buffers records are encoded into. Default 1 MiB. */
  writeBufferSize?: number | undefined;
  /**
   * Bytes past the writer kept zero-filled and synced in the background, so the fdatasync
   * after a small append commits no file-system metadata. Default 1 MiB with durability
   * `'sync'`, else 0 (off); every byte is written twice, which bulk writers do not want.
   */
  zeroFillAhead?: number | undefined;
  /**
   * Start the kernel's writeback of written, unsynced data every this many bytes, so that
   * a bulk append's final `sync()` has little left to write. A hint; it makes nothing
   * durable. Default 8 MiB; 0 turns it off.
   */
  writebackAhead?: number | undefined;
  /**
   * Write segments with O_DIRECT (whole 4 KiB blocks from aligned buffers, past the page
   * cache), so that an fdatasync only flushes the device's cache. Falls back to the page
   * cache where the file system or the build cannot, and `stats().storage.directIo` says
   * why. Default false.
   */
  directIo?: boolean | undefined;
  /**
   * Open without the lock and never modify the log, to read it beside a live writer (in
   * this process or another): replay, iterator, tail, stats and segments work; appends,
   * flush, sync and truncateBefore fail with WAL_READ_ONLY. Default false.
   */
  readOnly?: boolean | undefined;
  /**
   * Create the log in a directory that holds other files. Without it, opening a non-empty
   * directory that holds no log (a project folder, another program's data, a per-core log)
   * is refused with WAL_NOT_A_LOG, naming what was found, and nothing is written there.
   * Default false.
   */
  allowOtherFiles?: boolean | undefined;
  /**
   * The wall clock records are stamped with (`WalRecord.time`), ms since the epoch. Default
   * `Date.now`. The log never stamps a record earlier than the one before it, whatever it
   * returns. For tests, and for an application with a clock of its own.
   */
  clock?: (() => number) | undefined;
}

/** @internal Settings the Wal itself uses (the builder passes the rest to the engine). */
export interface WalRuntimeOptions {
  readonly durability: Durability;
  readonly syncIntervalMs: number;
  readonly maxQueueBytes: number;
  readonly backpressure: Backpressure;
  readonly maxGroupWaitMs: number;
  /** Opened read-only: the engine is a reader following the log (see `readOnly()`). */
  readonly readOnly: boolean;
  /** The StorageIo the builder created, closed with the Wal; undefined if the caller owns it. */
  readonly ownedIo: StorageIo | undefined;
  /** Opens segments for replay through a memory map (mmap-reader); undefined reads everything through the engine. */
  readonly openSegment: SegmentOpener | undefined;
  readonly backendChoice: string;
}

/** Options only a writer uses: refused beside `readOnly` rather than silently ignored. */
export const WRITER_ONLY_OPTIONS: readonly (keyof WalOptions)[] = [
  'segmentSize',
  'durability',
  'syncIntervalMs',
  'maxQueueBytes',
  'backpressure',
  'maxGroupWaitMs',
  'preallocate',
  'zeroFillAhead',
  'writebackAhead',
  'directIo',
  'maxRecordSize',
  'compression',
];

/**
 * Enough queued bytes to keep eight 1 MiB writes in flight; more only adds write buffers the
 * CPU caches cannot hold (docs/decisions/0607-wal-queue-and-writeback-ahead.md).
 */
export const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024;

/** zeroFillAhead under durability 'sync' unless set (docs/decisions/0305-zero-fill-ahead.md). */
export const DEFAULT_SYNC_ZERO_FILL_AHEAD = 1024 * 1024;

/** setInterval/setTimeout take at most 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const milliseconds: OptionCheck<number> = (value, name) => {
  if (typeof value !== 'number' || !(value >= 0) || value > MAX_TIMER_MS)
    badArgument(name, `a number of milliseconds from 0 to ${MAX_TIMER_MS}`, value);
  return value;
};

/**
 * Every option, declared once: its default and its check. The options the Wal passes on to
 * its engine take segmented's declaration (`CONFIG_OPTIONS`) as they are, so a default or a
 * limit lives in one place. `WalOptions` and this table cannot drift apart (the type demands
 * one entry per option and nothing else), and the setters, `options()` and `build()` all go
 * through `checkOption`, so a mistake is reported under the name the user typed, when they
 * typed it. `zeroFillAhead`'s default is `DEFAULT_SYNC_ZERO_FILL_AHEAD` under durability
 * 'sync' (the builder decides); test/option-tables.test.ts holds the README's table to these.
 */
export const WAL_OPTIONS = {
  segmentSize: CONFIG_OPTIONS.segmentTargetSize,
  durability: {
    default: 'sync',
    check: oneOfOption<Durability>('sync', 'flush', 'none', 'interval'),
  },
  syncIntervalMs: { default: 100, check: integerOption(1, MAX_TIMER_MS, ' (ms)') },
  maxQueueBytes: {
    default: DEFAULT_MAX_QUEUE_BYTES,
    check: integerOption(1, Number.MAX_SAFE_INTEGER, ' (bytes)'),
  },
  backpressure: { default: 'block', check: oneOfOption<Backpressure>('block', 'error') },
  storageIo: { default: 'auto', check: checkStorageChoice },
  ioUring: { default: undefined, check: (value) => checkIoUringConfig(value) },
  encryption: CONFIG_OPTIONS.encryption,
  compression: CONFIG_OPTIONS.compression,
  recovery: CONFIG_OPTIONS.recovery,
  verify: CONFIG_OPTIONS.verify,
  maxRecordSize: CONFIG_OPTIONS.maxRecordSize,
  maxGroupWaitMs: { default: 0, check: milliseconds },
  preallocate: CONFIG_OPTIONS.preallocate,
  writeBufferSize: CONFIG_OPTIONS.writeBufferSize,
  zeroFillAhead: CONFIG_OPTIONS.zeroFillAhead,
  writebackAhead: CONFIG_OPTIONS.writebackAhead,
  directIo: CONFIG_OPTIONS.directIo,
  readOnly: CONFIG_OPTIONS.readOnly,
  allowOtherFiles: CONFIG_OPTIONS.allowOtherFiles,
  clock: CONFIG_OPTIONS.clock,
} satisfies { readonly [K in keyof WalOptions]-?: OptionSpec<WalOptions[K]> };

export const OPTION_NAMES = Object.keys(WAL_OPTIONS) as (keyof WalOptions)[];

/** For each option, the engine fields whose type takes its value. */
type EngineFieldFor<K extends keyof WalOptions> = {
  [F in keyof EngineConfig]-?: NonNullable<WalOptions[K]> extends EngineConfig[F] ? F : never;
}[keyof EngineConfig];

/**
 * The options the Wal passes on to its engine (SegmentedWal), each under the engine's name
 * for it. `zeroFillAhead` is passed on by the builder: its default depends on the durability.
 */
const ENGINE_FIELDS: { readonly [K in keyof WalOptions]?: EngineFieldFor<K> } = {
  segmentSize: 'segmentTargetSize',
  maxRecordSize: 'maxRecordSize',
  recovery: 'recovery',
  verify: 'verify',
  encryption: 'encryption',
  compression: 'compression',
  preallocate: 'preallocate',
  writeBufferSize: 'writeBufferSize',
  writebackAhead: 'writebackAhead',
  directIo: 'directIo',
  allowOtherFiles: 'allowOtherFiles',
  clock: 'clock',
};

/**
 * The engine's configuration for the options set in `options`, renamed to the engine's
 * fields; for a reader, only what it needs to find and read frames (no writer-only option).
 */
export function engineFields(options: WalOptions, reader: boolean): Partial<EngineConfig> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(ENGINE_FIELDS) as (keyof WalOptions)[]) {
    const value = options[key];
    if (value === undefined || (reader && WRITER_ONLY_OPTIONS.includes(key))) continue;
    fields[ENGINE_FIELDS[key]!] = value;
  }
  return fields as Partial<EngineConfig>;
}

/** The value, checked under the option's own name; WAL_BAD_ARGUMENT if it is wrong. */
export function checkOption<K extends keyof WalOptions>(key: K, value: unknown): WalOptions[K] {
  return (WAL_OPTIONS[key].check as OptionCheck<WalOptions[K]>)(value, key);
}

/**
 * Checks an options object: unknown keys (with the likely intended one for a typo) and bad
 * values are refused. An `undefined` value means "not set", as with a spread of defaults.
 */
export function checkOptions(options: unknown): WalOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    badArgument('options', 'an object', options);
  const checked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!(key in WAL_OPTIONS)) throw unknownOption(key, OPTION_NAMES, 'Wal.open()');
    if (value !== undefined) checked[key] = checkOption(key as keyof WalOptions, value);
  }
  return checked as WalOptions;
}
