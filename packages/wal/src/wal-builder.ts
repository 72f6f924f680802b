import {
  badArgument,
  type CompressionName,
  isWalError,
  type KeyRing,
  pathOption,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { RecoveryMode, VerifyMode } from '@walnut/segmented';
import {
  type IoUringConfig,
  resolveStorage,
  type StorageChoice,
  type StorageIo,
} from '@walnut/storage-io';
import type { EngineConfig, EngineFactory, LogEngine } from './engine.js';
import {
  type Backpressure,
  checkOption,
  checkOptions,
  DEFAULT_SYNC_ZERO_FILL_AHEAD,
  type Durability,
  engineFields,
  WAL_OPTIONS,
  type WalOptions,
  WRITER_ONLY_OPTIONS,
} from './options.js';
import { recordRetentionSettings } from './retention/retention-file.js';
import { checkRetention, type RetentionOptions } from './retention/retention-options.js';
import { segmentedEngineFactory } from './segmented-engine.js';
import { Wal } from './wal.js';

/**
 * Configures a log; `await build()` opens it, and so does awaiting the builder itself
 * (`await Wal.open(dir)`, as every other package's `open` is awaited). Every setter returns
 * the builder, and every setter and `options()` checks its value at once, under the name
 * you wrote (WAL_BAD_ARGUMENT), so a mistake never waits for `build()`.
 */
export class WalBuilder implements PromiseLike<Wal> {
  private readonly settings: WalOptions = {};
  private factory: EngineFactory | undefined;
  private retentionOptions: RetentionOptions | undefined;

  /** The log directory, as a path (a file: URL given is turned into its path). */
  readonly dir: string;

  constructor(dir: string | URL) {
    this.dir = pathOption(dir, 'dir');
  }

  /** Sets several options at once; unknown names and bad values are refused. */
  options(options: WalOptions): this {
    Object.assign(this.settings, checkOptions(options));
    return this;
  }
  segmentSize(bytes: number): this {
    return this.set('segmentSize', bytes);
  }
  durability(mode: Durability): this {
    return this.set('durability', mode);
  }
  syncIntervalMs(ms: number): this {
    return this.set('syncIntervalMs', ms);
  }
  maxQueueBytes(bytes: number): this {
    return this.set('maxQueueBytes', bytes);
  }
  backpressure(mode: Backpressure): this {
    return this.set('backpressure', mode);
  }
  storageIo(choice: StorageChoice, ioUring?: IoUringConfig): this {
    this.set('storageIo', choice);
    return ioUring === undefined ? this : this.set('ioUring', ioUring);
  }
  encryption(ring: KeyRing): this {
    return this.set('encryption', ring);
  }
  /**
   * Compresses frame bodies with `codec` at `level` (zstd: 1..19, default 1); see
   * WalOptions.compression. WAL_BACKEND_UNAVAILABLE on a runtime that cannot write it.
   */
  compression(codec: CompressionName, level?: number): this {
    return this.set('compression', level === undefined ? codec : { codec, level });
  }
  recovery(mode: RecoveryMode): this {
    return this.set('recovery', mode);
  }
  verify(mode: VerifyMode): this {
    return this.set('verify', mode);
  }
  maxRecordSize(bytes: number): this {
    return this.set('maxRecordSize', bytes);
  }
  maxGroupWaitMs(ms: number): this {
    return this.set('maxGroupWaitMs', ms);
  }
  preallocate(on = true): this {
    return this.set('preallocate', on);
  }
  writeBufferSize(bytes: number): this {
    return this.set('writeBufferSize', bytes);
  }
  /** 0 turns zero-filling ahead off. */
  zeroFillAhead(bytes: number): this {
    return this.set('zeroFillAhead', bytes);
  }
  /** 0 turns writeback ahead off. */
  writebackAhead(bytes: number): this {
    return this.set('writebackAhead', bytes);
  }

  /** Writes segments with O_DIRECT where the file system allows it (see WalOptions.directIo). */
  directIo(on = true): this {
    return this.set('directIo', on);
  }

  /** The clock records are stamped with (see WalOptions.clock). */
  clock(now: () => number): this {
    return this.set('clock', now);
  }

  /** Creates the log even in a directory that holds other files (see WalOptions.allowOtherFiles). */
  allowOtherFiles(on = true): this {
    return this.set('allowOtherFiles', on);
  }

  /**
   * Opens the log read-only: no lock, nothing on disk modified (a torn tail is reported,
   * not cut), beside a live writer in this process or another. Replay, iterator, tail
   * (which follows what the writer appends), stats and segments work; appends, flush, sync
   * and truncateBefore fail with WAL_READ_ONLY. Options only a writer uses are refused.
   */
  readOnly(on = true): this {
    return this.set('readOnly', on);
  }

  /**
   * Deletes the oldest sealed segments in the background (as segments are sealed and every
   * `intervalMs`) while the log is over `maxBytes` or `maxSegments`, and those whose every
   * record is older than `maxAgeMs` by the log's clock, never one holding a
   * record a durable cursor has yet to read, unless that cursor lags more than
   * `maxCursorLagBytes`; `beforeDelete` is awaited before each deletion (README, "Retention").
   */
  retention(options: RetentionOptions): this {
    this.retentionOptions = checkRetention(options, 'retention');
    return this;
  }

  /** @internal Opens the log over another engine (tests). */
  withEngine(factory: EngineFactory): this {
    this.factory = factory;
    return this;
  }

  /** Opens (recovering if needed) and starts the log. */
  async build(): Promise<Wal> {
    const s = this.settings;
    const durability = s.durability ?? WAL_OPTIONS.durability.default;
    if (s.ioUring !== undefined && typeof s.storageIo === 'object') {
      badArgument(
        'ioUring',
        'unset when storageIo is a StorageIo of yours (configure that instance instead)',
        s.ioUring,
      );
    }
    const readOnly = s.readOnly === true;
    if (readOnly) {
      const writerOnly: string[] = WRITER_ONLY_OPTIONS.filter((name) => s[name] !== undefined);
      if (this.retentionOptions !== undefined) writerOnly.push('retention');
      if (writerOnly.length > 0) {
        throw new WalError(
          WalErrorCode.BAD_ARGUMENT,
          `${writerOnly.join(', ')} ${writerOnly.length === 1 ? 'is' : 'are'} for a writer and would do nothing on a read-only Wal; remove ${writerOnly.length === 1 ? 'it' : 'them'}, or open without readOnly`,
          { details: { options: writerOnly } },
        );
      }
    }
    const factory = this.factory ?? segmentedEngineFactory;
    const { io, owned } = await resolveStorage(s.storageIo, s.ioUring);
    let engine: LogEngine;
    try {
      engine = await factory.open(
        readOnly ? readerConfig(this.dir, io, s) : engineConfig(this.dir, io, s, durability),
      );
    } catch (error) {
      if (owned) await io.closeIo().catch(() => undefined);
      throw isWalError(error, WalErrorCode.LOCKED) ? withReadOnlyAdvice(error, this.dir) : error;
    }
    const wal = new Wal(this.dir, engine, {
      durability,
      syncIntervalMs: s.syncIntervalMs ?? WAL_OPTIONS.syncIntervalMs.default,
      maxQueueBytes: s.maxQueueBytes ?? WAL_OPTIONS.maxQueueBytes.default,
      backpressure: s.backpressure ?? WAL_OPTIONS.backpressure.default,
      maxGroupWaitMs: s.maxGroupWaitMs ?? WAL_OPTIONS.maxGroupWaitMs.default,
      readOnly,
      ownedIo: owned ? io : undefined,
      openSegment: factory.openSegment?.(s.encryption, io),
      backendChoice:
        typeof s.storageIo === 'string' ? s.storageIo : s.storageIo ? 'custom' : 'auto',
    });
    wal.start(this.retentionOptions);
    if (!readOnly) {
      try {
        await recordRetentionSettings(engine.io, this.dir, this.retentionOptions);
      } catch (error) {
        await wal.close();
        throw error;
      }
    }
    return wal;
  }

  /**
   * `build()` for `await`: without it, `await Wal.open(dir)` handed back this builder and the
   * first `append` failed with a TypeError (docs/decisions/0618-wal-builder-is-awaitable.md).
   * Each await opens the log again, as each `build()` does.
   */
  // biome-ignore lint/suspicious/noThenProperty: the builder is awaitable on purpose (0618).
  then<TResult1 = Wal, TResult2 = never>(
    onFulfilled?: ((wal: Wal) => TResult1 | PromiseLike<TResult1>) | null,
    onRejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return this.build().then(onFulfilled, onRejected);
  }

  private set<K extends keyof WalOptions>(key: K, value: WalOptions[K]): this {
    this.settings[key] = checkOption(key, value);
    return this;
  }
}

function engineConfig(
  dir: string,
  io: StorageIo,
  s: WalOptions,
  durability: Durability,
): EngineConfig {
  const config: EngineConfig = { dir, io, ...engineFields(s, false) };
  const zeroFill = s.zeroFillAhead ?? (durability === 'sync' ? DEFAULT_SYNC_ZERO_FILL_AHEAD : 0);
  if (zeroFill > 0) config.zeroFillAhead = zeroFill;
  return config;
}

/** What a reader passes on: what it needs to find and read frames, nothing a writer sets. */
function readerConfig(dir: string, io: StorageIo, s: WalOptions): EngineConfig {
  return { dir, io, readOnly: true, ...engineFields(s, true) };
}

/** WAL_LOCKED, with the Wal's way to read the log beside its writer. */
function withReadOnlyAdvice(error: WalError, dir: string): WalError {
  return new WalError(
    WalErrorCode.LOCKED,
    `${error.message}. To read the log while it is being written, open it with Wal.open(${JSON.stringify(dir)}).readOnly().build()`,
    { cause: error, details: error.details },
  );
}
