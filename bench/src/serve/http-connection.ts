/**
 * One keep-alive HTTP/1.1 connection that sends one request at a time: what the serve
 * bench's producers post through. It writes the request head by hand and reads only the
 * answer's status line, headers and body length, as load generators like wrk do. On this
 * 2-core host `node:http`'s client took about 230 µs of CPU per request (86 % of a core at
 * 3.8 k requests/s), the core the server under test needed (2026-11-28, quiet machine).
 */
import { connect, type Socket } from 'node:net';

export interface Answer {
  readonly status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  readonly headers: Record<string, string>;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const LINE_END = Buffer.from('\r\n');

interface Pending {
  resolve(answer: Answer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** How the answer's body ends, once its head is read. */
type Body = { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

export class HttpConnection {
  private socket: Socket | undefined;
  private origin = '';
  private host = '';
  private pending: Pending | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private answer: Answer | undefined;
  private body: Body | undefined;
  private keepAlive = true;

  /**
   * Sends `method path` to `origin` (`http://host:port`) with `headers` (a `content-length`
   * is added) and `body`; resolves with the answer once its body has been read, rejects when
   * the connection fails or no answer comes within `timeoutMs`.
   */
  request(
    origin: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<Answer> {
    if (this.pending !== undefined) throw new Error('one request at a time per connection');
    if (this.socket === undefined || origin !== this.origin) this.open(origin);
    const payload = Buffer.from(body, 'utf8');
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    head += `content-length: ${payload.length}\r\n\r\n`;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending = { resolve, reject, timer };
      this.socket!.cork();
      this.socket!.write(head, 'latin1');
      this.socket!.write(payload);
      this.socket!.uncork();
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(origin: string): void {
    this.close();
    const { host, hostname, port } = new URL(origin);
    this.host = host;
    const socket = connect({ host: hostname, port: Number(port), noDelay: true });
    this.socket = socket;
    this.origin = origin;
    this.buffered = Buffer.alloc(0);
    this.answer = undefined;
    this.body = undefined;
    this.keepAlive = true;
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      try {
        this.parse();
      } catch (error) {
        this.fail(error as Error);
      }
    });
    const lost = (error?: Error) => {
      if (socket !== this.socket) return;
      if (this.body?.kind === 'close' && this.answer !== undefined) {
        this.finish();
        return;
      }
      this.fail(error ?? new Error('the server closed the connection'));
    };
    socket.on('error', lost);
    socket.on('close', () => lost());
  }

  private parse(): void {
    if (this.answer === undefined) {
      const end = this.buffered.indexOf(HEAD_END);
      if (end < 0) return;
      this.readHead(this.buffered.toString('latin1', 0, end));
      this.buffered = this.buffered.subarray(end + HEAD_END.length);
    }
    const body = this.body!;
    if (body.kind === 'length') {
      const taken = Math.min(body.left, this.buffered.length);
      body.left -= taken;
      this.buffered = this.buffered.subarray(taken);
      if (body.left === 0) this.finish();
    } else if (body.kind === 'chunked') {
      this.readChunks();
    } else {
      this.buffered = Buffer.alloc(0);
    }
  }

  private readHead(text: string): void {
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (status === null) throw new Error(`not an HTTP answer: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    this.answer = { status: code, headers };
    this.keepAlive = headers.connection?.toLowerCase() !== 'close';
    if (code === 204 || code === 304 || (code >= 100 && code < 200)) {
      this.body = { kind: 'length', left: 0 };
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      this.body = { kind: 'chunked' };
    } else if (headers['content-length'] !== undefined) {
      this.body = { kind: 'length', left: Number(headers['content-length']) };
    } else {
      this.body = { kind: 'close' };
      this.keepAlive = false;
    }
  }

  /** Skips chunks up to the last (empty) one and its trailer's end. */
  private readChunks(): void {
    for (;;) {
      const lineEnd = this.buffered.indexOf(LINE_END);
      if (lineEnd < 0) return;
      const size = Number.parseInt(this.buffered.toString('latin1', 0, lineEnd), 16);
      if (!Number.isFinite(size)) throw new Error('a chunk size that is not hexadecimal');
      if (size === 0) {
        // The last chunk's line end and the (empty or not) trailer's make one \r\n\r\n.
        const end = this.buffered.indexOf(HEAD_END, lineEnd);
        if (end < 0) return;
        this.buffered = this.buffered.subarray(end + HEAD_END.length);
        this.finish();
        return;
      }
      const chunkEnd = lineEnd + LINE_END.length + size + LINE_END.length;
      if (this.buffered.length < chunkEnd) return;
      this.buffered = this.buffered.subarray(chunkEnd);
    }
  }

  private finish(): void {
    const pending = this.pending;
    const answer = this.answer!;
    this.answer = undefined;
    this.body = undefined;
    this.pending = undefined;
    if (!this.keepAlive) this.close();
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    pending.resolve(answer);
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    this.close();
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}
