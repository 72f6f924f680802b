/**
 * The message a shipper's next new message follows. Its id is what the publish expects as
 * the stream's last message (decision 0909), and its CRC is what the message names as
 * `prev` (decision 0918). Where the server forgot that id, although the stream ends with
 * that very message (a restart past the duplicate window, a copy caught up by snapshot),
 * the first publish after it expects the sequence alone.
 */
export class ChainTip {
  private forgotAt: number | null = null;

  constructor(
    private id: string | null,
    /** Null: not known (the next message names 0). */
    private crc: number | null,
  ) {}

  /** The next new message follows this one. */
  follow(id: string | null, crc: number | null): void {
    this.id = id;
    this.crc = crc;
  }

  /** What the next new message expects as the stream's last id. */
  get lastId(): string | null {
    return this.id;
  }

  /** What the next new message names as `prev`. */
  get prev(): number {
    return this.crc ?? 0;
  }

  /** The server refused the id it should hold for the stream's last message, at `seq`. */
  forgot(seq: number): void {
    this.forgotAt = seq;
  }

  /** The id a message at `seq`, sent after one with `prevId`, expects: none once, after a `forgot`. */
  expectedId(seq: number, prevId: string | null): string | null {
    if (this.forgotAt !== seq - 1) return prevId;
    this.forgotAt = null;
    return null;
  }
}
