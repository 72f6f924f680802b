import {
  badArgument,
  isBytes,
  recordInputBytes,
  WalError,
  WalErrorCode,
  type WalRecordInput,
} from '@walnut/codec';

/**
 * What marks a Batch: `instanceof` fails for a Batch built by another installed copy of this
 * package (a library depending on its own version beside the application's). The name's
 * version names the shape `appendBatch` relies on: `take()` and `byteLength`.
 */
const BATCH_BRAND: unique symbol = Symbol.for('@walnut/wal:Batch:v1') as never;

/**
 * Records to append atomically with `wal.appendBatch(batch)`: on recovery either all of
 * them are there or none. Payloads are referenced, not copied, until `appendBatch` takes
 * them (it encodes them into the write buffer, or copies them when it must wait for room):
 * once it returns, the buffers are the caller's again. A batch is used once.
 */
export class Batch {
  /** @internal */ readonly [BATCH_BRAND] = true;
  /** @internal */ readonly records: WalRecordInput[] = [];
  private payloadBytes = 0;
  private used = false;

  /** Adds a record; returns the batch so calls can be chained. */
  add(payload: Uint8Array, meta?: Uint8Array): this {
    this.checkOpen();
    if (!isBytes(payload)) badArgument('payload', 'a Buffer or Uint8Array', payload);
    if (meta !== undefined && !isBytes(meta)) {
      badArgument('meta', 'a Buffer, Uint8Array or undefined', meta);
    }
    this.records.push(meta === undefined ? { payload } : { payload, meta });
    this.payloadBytes += payload.length + (meta?.length ?? 0);
    return this;
  }

  /** Adds a record with routing fields or a record type. */
  addRecord(record: WalRecordInput): this {
    this.checkOpen();
    const bytes = recordInputBytes(record);
    this.records.push(record);
    this.payloadBytes += bytes;
    return this;
  }

  /** True for a Batch built by this or by any other installed copy of @walnut/wal. */
  static isBatch(value: unknown): value is Batch {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as { [BATCH_BRAND]?: unknown })[BATCH_BRAND] === true
    );
  }

  get length(): number {
    return this.records.length;
  }

  /** Payload plus meta bytes of every record. */
  get byteLength(): number {
    return this.payloadBytes;
  }

  /** @internal Marks the batch consumed; a second append of it is refused. */
  take(): readonly WalRecordInput[] {
    this.checkOpen();
    if (this.records.length === 0) {
      throw new WalError(WalErrorCode.BAD_ARGUMENT, 'a batch must hold at least one record');
    }
    this.used = true;
    return this.records;
  }

  private checkOpen(): void {
    if (this.used) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        'this batch was already appended; build a new Batch for each appendBatch call',
      );
    }
  }
}
