import { badArgument, type KeyRing } from '@walnut/codec';
import type { IoUringConfig, StorageIo } from '@walnut/storage-io';
import type { LogEngine } from './engine.js';
import { resolveStorage, type StorageChoice } from './internal/storage-choice.js';
import type { SealedSegmentOpener } from './read-records.js';
import { segmentedEngineFactory } from './segmented-engine.js';
import { type Backpressure, type Durability, Wal } from './wal.js';

export type RecoveryMode = 'strict' | 'truncate-tail' | 'salvage';

/** Everything `WalBuilder` can set, as one object (`Wal.open(dir).options({...})`). */
export interface WalOptions {
  /** A segment is sealed and the next one started at this size. Default 64 MiB. */
  segmentSize?: number;
  /** Default `'sync'`. */
  durability?: Durability;
  /** For `durability: 'interval'`. Default 100 ms. */
  syncIntervalMs?: number;
  /** Payload+meta bytes appended but not yet committed before backpressure applies. Default 8 MiB. */
  maxQueueBytes?: number;
  /** Default `'block'`. */
  backpressure?: Backpressure;
  /** A StorageIo (never closed by the Wal) or a backend name. Default `'auto'`. */
  storageIo?: StorageChoice;
  /** io_uring options when the Wal creates the io_uring backend. */
  ioUring?: IoUringConfig;
  /** Encrypt new segments (AES-256-GCM) with this ring; old segments are read with it too. */
  encryption?: KeyRing;
  /** What opening does with damage. Default `'truncate-tail'`. */
  recovery?: RecoveryMode;
  /** Largest payload+meta of one record. Default 16 MiB. */
  maxRecordSize?: number;
  /** Wait this long before starting a group commit, to gather more records. Default 0. */
  maxGroupWaitMs?: number;
  /** Reserve each new segment's space up front. Default false. */
  preallocate?: boolean;
  /** Size of the buffers records are encoded into. Default 1 MiB. */
  writeBufferSize?: number;
  /**
   * Bytes past the writer kept zero-filled and synced in the background, so the fdatasync
   * after a small append commits no file-system metadata. Default 1 MiB with durability
   * `'sync'`, else 0 (off); every byte is written twice, which bulk writers do not want.
   */
  zeroFillAhead?: number;
  /**
   * Start the kernel's writeback of written, unsynced data every this many bytes, so that
   * a bulk append's final `sync()` has little left to write. A hint; it makes nothing
   * durable. Default 8 MiB; 0 turns it off.
   */
  writebackAhead?: number;
  /**
   * Write segments with O_DIRECT (whole 4 KiB blocks from aligned buffers, past the page
   * cache), so that an fdatasync only flushes the device's cache. Falls back to the page
   * cache where the file system or the build cannot, and `stats().storage.directIo` says
   * why. Default false.
   */
  directIo?: boolean;
}

/** @internal How a builder opens its engine (a SegmentedWal; a fake in tests). */
export interface EngineFactory {
  open(config: EngineConfig): Promise<LogEngine>;
  /** Sealed-segment reader for replay, if any. */
  readonly openSealed?: (
    keyRing: KeyRing | undefined,
    io: StorageIo,
  ) => SealedSegmentOpener | undefined;
}

/** @internal The SegmentedWal configuration the builder derives. */
export interface EngineConfig {
  dir: string;
  io: StorageIo;
  segmentTargetSize?: number;
  maxRecordSize?: number;
  recovery?: RecoveryMode;
  encryption?: KeyRing;
  preallocate?: boolean;
  writeBufferSize?: number;
  zeroFillAhead?: number;
  writebackAhead?: number;
  directIo?: boolean;
}

/**
 * Enough queued bytes to keep eight 1 MiB writes in flight; more only adds write buffers the
 * CPU caches cannot hold (docs/decisions/0607-wal-queue-and-writeback-ahead.md).
 */
export const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024;

/** zeroFillAhead under durability 'sync' unless set (docs/decisions/0305-zero-fill-ahead.md). */
export const DEFAULT_SYNC_ZERO_FILL_AHEAD = 1024 * 1024;

const DURABILITIES = new Set(['sync', 'flush', 'none', 'interval']);

/** Configures a log; `await build()` opens it. Every setter returns the builder. */
export class WalBuilder {
  private readonly settings: WalOptions = {};
  private factory: EngineFactory | undefined;

  constructor(readonly dir: string) {
    if (typeof dir !== 'string' || dir.length === 0) badArgument('dir', 'a directory path', dir);
  }

  options(options: WalOptions): this {
    if (typeof options !== 'object' || options === null)
      badArgument('options', 'an object', options);
    Object.assign(this.settings, options);
    return this;
  }
  segmentSize(bytes: number): this {
    return this.set('segmentSize', positiveInteger('segmentSize', bytes));
  }
  durability(mode: Durability): this {
    if (!DURABILITIES.has(mode))
      badArgument('durability', "'sync', 'flush', 'none' or 'interval'", mode);
    return this.set('durability', mode);
  }
  syncIntervalMs(ms: number): this {
    return this.set('syncIntervalMs', positiveInteger('syncIntervalMs', ms));
  }
  maxQueueBytes(bytes: number): this {
    return this.set('maxQueueBytes', positiveInteger('maxQueueBytes', bytes));
  }
  backpressure(mode: Backpressure): this {
    if (mode !== 'block' && mode !== 'error')
      badArgument('backpressure', "'block' or 'error'", mode);
    return this.set('backpressure', mode);
  }
  storageIo(choice: StorageChoice, ioUring?: IoUringConfig): this {
    this.set('storageIo', choice);
    return ioUring === undefined ? this : this.set('ioUring', ioUring);
  }
  encryption(ring: KeyRing): this {
    return this.set('encryption', ring);
  }
  recovery(mode: RecoveryMode): this {
    if (mode !== 'strict' && mode !== 'truncate-tail' && mode !== 'salvage') {
      badArgument('recovery', "'strict', 'truncate-tail' or 'salvage'", mode);
    }
    return this.set('recovery', mode);
  }
  maxRecordSize(bytes: number): this {
    return this.set('maxRecordSize', positiveInteger('maxRecordSize', bytes));
  }
  maxGroupWaitMs(ms: number): this {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) {
      badArgument('maxGroupWaitMs', 'a non-negative number', ms);
    }
    return this.set('maxGroupWaitMs', ms);
  }
  preallocate(on = true): this {
    return this.set('preallocate', on);
  }
  writeBufferSize(bytes: number): this {
    return this.set('writeBufferSize', positiveInteger('writeBufferSize', bytes));
  }
  /** 0 turns zero-filling ahead off. */
  zeroFillAhead(bytes: number): this {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      badArgument('zeroFillAhead', 'a non-negative integer (bytes; 0 = off)', bytes);
    }
    return this.set('zeroFillAhead', bytes);
  }
  /** 0 turns writeback ahead off. */
  writebackAhead(bytes: number): this {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      badArgument('writebackAhead', 'a non-negative integer (bytes; 0 = off)', bytes);
    }
    return this.set('writebackAhead', bytes);
  }

  /** Writes segments with O_DIRECT where the file system allows it (see WalOptions.directIo). */
  directIo(on = true): this {
    if (typeof on !== 'boolean') badArgument('directIo', 'a boolean', on);
    return this.set('directIo', on);
  }

  /** @internal Opens the log over another engine (tests). */
  withEngine(factory: EngineFactory): this {
    this.factory = factory;
    return this;
  }

  /** Opens (recovering if needed) and starts the log. */
  async build(): Promise<Wal> {
    const s = this.settings;
    const durability = s.durability ?? 'sync';
    if (!DURABILITIES.has(durability)) {
      badArgument('durability', "'sync', 'flush', 'none' or 'interval'", durability);
    }
    const factory = this.factory ?? segmentedEngineFactory;
    const { io, owned } = resolveStorage(s.storageIo, s.ioUring);
    let engine: LogEngine;
    try {
      engine = await factory.open(engineConfig(this.dir, io, s, durability));
    } catch (error) {
      if (owned) await io.closeIo().catch(() => undefined);
      throw error;
    }
    const wal = new Wal(this.dir, engine, {
      durability,
      syncIntervalMs: s.syncIntervalMs ?? 100,
      maxQueueBytes: s.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES,
      backpressure: s.backpressure ?? 'block',
      maxGroupWaitMs: s.maxGroupWaitMs ?? 0,
      ownedIo: owned ? io : undefined,
      openSealed: factory.openSealed?.(s.encryption, io),
      backendChoice:
        typeof s.storageIo === 'string' ? s.storageIo : s.storageIo ? 'custom' : 'auto',
    });
    return wal.start();
  }

  private set<K extends keyof WalOptions>(key: K, value: WalOptions[K]): this {
    this.settings[key] = value;
    return this;
  }
}

function engineConfig(
  dir: string,
  io: StorageIo,
  s: WalOptions,
  durability: Durability,
): EngineConfig {
  const config: EngineConfig = { dir, io };
  const zeroFill = s.zeroFillAhead ?? (durability === 'sync' ? DEFAULT_SYNC_ZERO_FILL_AHEAD : 0);
  if (zeroFill > 0) config.zeroFillAhead = zeroFill;
  if (s.segmentSize !== undefined) config.segmentTargetSize = s.segmentSize;
  if (s.maxRecordSize !== undefined) config.maxRecordSize = s.maxRecordSize;
  if (s.recovery !== undefined) config.recovery = s.recovery;
  if (s.encryption !== undefined) config.encryption = s.encryption;
  if (s.preallocate !== undefined) config.preallocate = s.preallocate;
  if (s.writeBufferSize !== undefined) config.writeBufferSize = s.writeBufferSize;
  if (s.writebackAhead !== undefined) config.writebackAhead = s.writebackAhead;
  if (s.directIo !== undefined) config.directIo = s.directIo;
  return config;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) badArgument(name, 'a positive integer', value);
  return value;
}
