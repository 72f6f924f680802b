import { mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  encodeFileHeader,
  encodeFloor,
  encodeHead,
  encodeRecordFrame,
  FLOOR_FILE,
  HEAD_FILE,
  KeyRing,
  recordFrameSize,
  segmentFileName,
  segmentFilesIn,
} from '@walnut/codec';
import { Wal } from '@walnut/wal';
import type { Output } from '../src/output.js';
import { runCli } from '../src/program.js';

/** An Output whose streams are collected as strings. */
export function captureOutput(options: { interactive?: boolean; debug?: boolean } = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => {
    out += c;
  });
  stderr.on('data', (c) => {
    err += c;
  });
  const output: Output = {
    stdout,
    stderr,
    interactive: options.interactive ?? false,
    debug: options.debug ?? false,
  };
  return {
    output,
    get stdout() {
      return out;
    },
    get stderr() {
      return err;
    },
  };
}

/** Runs the CLI in-process; resolves with the exit code and what it printed. */
export async function cli(...argv: string[]) {
  const captured = captureOutput();
  const code = await runCli(argv, (debug) => ({ ...captured.output, debug }));
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

export interface FixtureSegment {
  readonly firstLsn: bigint;
  readonly payloads: readonly string[];
}

export interface WrittenSegment {
  readonly path: string;
  readonly name: string;
  /** File offset of each record's frame. */
  readonly frameOffsets: number[];
  readonly size: number;
}

/**
 * Writes a log directory byte for byte as FORMAT.md says, with the codec's encoders:
 * one segment file per entry, records numbered from the segment's first LSN.
 */
export async function writeLog(
  dir: string,
  segments: readonly FixtureSegment[],
): Promise<WrittenSegment[]> {
  await mkdir(dir, { recursive: true });
  const written: WrittenSegment[] = [];
  for (const seg of segments) {
    const inputs = seg.payloads.map((p) => ({ payload: Buffer.from(p) }));
    const size = 64 + inputs.reduce((n, r) => n + recordFrameSize(r), 0);
    const buf = Buffer.alloc(size);
    encodeFileHeader({
      firstLsn: seg.firstLsn,
      salt: Buffer.alloc(16, 7),
      cipher: 'none',
      fileKind: 'segment',
      keyId: 0,
    }).copy(buf, 0);
    let at = 64;
    const frameOffsets: number[] = [];
    inputs.forEach((input, i) => {
      frameOffsets.push(at);
      at += encodeRecordFrame(buf, at, seg.firstLsn + BigInt(i), input);
    });
    const name = segmentFileName(seg.firstLsn);
    const path = join(dir, name);
    await writeFile(path, buf);
    written.push({ path, name, frameOffsets, size });
  }
  return written;
}

/** A log of `count` records "record-1" … in one segment. */
export async function simpleLog(dir: string, count: number): Promise<WrittenSegment> {
  const payloads = Array.from({ length: count }, (_, i) => `record-${i + 1}`);
  const [seg] = await writeLog(dir, [{ firstLsn: 1n, payloads }]);
  return seg!;
}

export async function writeFloor(dir: string, lsn: bigint): Promise<void> {
  await writeFile(join(dir, FLOOR_FILE), encodeFloor(lsn));
}

/** Records `firstLsn` as the newest segment's, as a writer's rollover does. */
export async function writeHead(dir: string, firstLsn: bigint): Promise<void> {
  await writeFile(join(dir, HEAD_FILE), encodeHead(firstLsn));
}

/** Flips one byte in place (damage in the middle of a frame). */
export async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

/** Appends bytes at the end: the remains of an unfinished write. */
export async function appendBytes(path: string, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.write(bytes);
  } finally {
    await fh.close();
  }
}

/**
 * A real encrypted log, written by the Wal with a key ring the CLI never sees:
 * `count` records "secret-1" …, each in an encrypted frame. On a new directory the log is one
 * segment (…001.wal); on an existing log the Wal starts a new, encrypted segment. Returns its path.
 */
export async function encryptedWalLog(dir: string, count: number): Promise<string> {
  const wal = await Wal.open(dir)
    .encryption(new KeyRing({ 1: KeyRing.generateKey() }, 1))
    .build();
  try {
    for (let i = 1; i <= count; i++) await wal.append(Buffer.from(`secret-${i}`));
  } finally {
    await wal.close();
  }
  const last = segmentFilesIn(await readdir(dir)).at(-1)!;
  return join(dir, last.name);
}
