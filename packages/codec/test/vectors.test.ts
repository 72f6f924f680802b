import { describe, expect, it } from 'vitest';
import { decodeCursor } from '../src/files/cursor-file.js';
import { decodeFileHeader } from '../src/files/file-header.js';
import { decodeRetention } from '../src/files/retention-file.js';
import { durableMarkEnd } from '../src/format/durable-mark.js';
import { FrameScanner } from '../src/format/scanner.js';
import {
  coreEntryOf,
  cursorOf,
  encodeVector,
  headerOf,
  loadVectors,
  readHex,
  recordOf,
  retentionOf,
  vectorCipher,
} from './vector-meaning.js';

type Json = Record<string, unknown>;

function scan(bytes: Buffer, options = {}) {
  const scanner = new FrameScanner(bytes, options);
  return { records: [...scanner.records()], stop: scanner.stop };
}

describe('golden vectors (test/vectors/)', () => {
  const vectors = loadVectors();

  const exact = vectors.filter((v) => v.kind !== 'compressed');
  it.each(exact.map((v) => [v.name, v] as const))('%s: encodes to the file', (_name, v) => {
    expect(encodeVector(v).toString('hex')).toBe(readHex(v.file).toString('hex'));
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s: decodes to its meaning', (_name, v) => {
    const bytes = readHex(v.file);
    const m = v.meaning as Json;
    switch (v.kind) {
      case 'fileHeader':
        expect(decodeFileHeader(bytes)).toEqual(headerOf(m));
        break;
      case 'records':
        expect(scan(bytes, v.inFile === undefined ? {} : { file: v.inFile })).toEqual({
          records: (v.meaning as Json[]).map(recordOf),
          stop: { kind: 'eof', offset: bytes.length, reason: 'end of data' },
        });
        break;
      case 'coreEntry':
        expect(new FrameScanner(bytes).nextCoreEntry()).toEqual(coreEntryOf(m));
        break;
      case 'padding': {
        const scanner = new FrameScanner(bytes);
        expect(scanner.nextFrame()?.body).toEqual(
          Buffer.alloc(m.bodyLength as number, 0).fill(4, 0, 1),
        );
        expect(scanner.nextRecord()).toBeNull();
        expect(scanner.stop?.kind).toBe('eof');
        break;
      }
      case 'durableMark': {
        const scanner = new FrameScanner(bytes);
        const body = scanner.nextFrame()!.body;
        expect(durableMarkEnd(body, 0, body.length)).toBe(m.durableEnd);
        expect(scanner.nextRecord()).toBeNull();
        expect(scanner.stop?.kind).toBe('eof');
        break;
      }
      case 'encrypted':
        expect(
          scan(bytes, {
            cipher: vectorCipher(m),
            ...(v.inFile === undefined ? {} : { file: v.inFile }),
          }).records,
        ).toEqual((m.records as Json[]).map(recordOf));
        break;
      case 'compressed':
        expect(scan(bytes)).toEqual({
          records: (m.records as Json[]).map(recordOf),
          stop: { kind: 'eof', offset: bytes.length, reason: 'end of data' },
        });
        expect(bytes.readUInt32LE(8 + 4)).toBe(m.plainLength);
        break;
      case 'scan': {
        const expected = (m.records as string[]).flatMap((file) => scan(readHex(file)).records);
        const result = scan(bytes);
        expect(result.records).toEqual(expected);
        expect(result.stop).toMatchObject(m.stop as Json);
        break;
      }
      case 'cursor':
        expect(decodeCursor(bytes, v.file)).toEqual(cursorOf(m));
        break;
      case 'retention':
        expect(decodeRetention(bytes, v.file)).toEqual(retentionOf(m));
        break;
    }
  });
});
