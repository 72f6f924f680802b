import { describe, expect, it } from 'vitest';
import { DURABLE_MARK_SIZE, durableMarkEnd, encodeDurableMark } from './durable-mark.js';
import { encodeFrame } from './frame.js';
import { FrameScanner } from './scanner.js';

describe('durable marks', () => {
  it('are padding frames that every reader skips, stating how far the file was durable', () => {
    const buf = Buffer.alloc(DURABLE_MARK_SIZE);
    expect(encodeDurableMark(buf, 0, 4096)).toBe(DURABLE_MARK_SIZE);
    const scanner = new FrameScanner(buf);
    const body = scanner.nextFrame()!.body;
    expect(durableMarkEnd(body, 0, body.length)).toBe(4096);
    expect(new FrameScanner(buf).nextRecord()).toBeNull();
  });

  it('are not read into plain padding, which writers fill with zeros, nor into other lengths', () => {
    const buf = Buffer.alloc(64);
    const plain = Buffer.alloc(12);
    plain[0] = 4;
    encodeFrame(buf, 0, plain);
    expect(durableMarkEnd(buf, 8, 20)).toBe(-1);
    encodeDurableMark(buf, 0, 100);
    expect(durableMarkEnd(buf, 8, 20)).toBe(100);
    expect(durableMarkEnd(buf, 8, 21)).toBe(-1);
  });
});
