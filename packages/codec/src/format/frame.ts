import { crc32cRange } from '../crc/crc32c.js';
import { badArgument, frameDoesNotFit } from '../errors/errors.js';
import { viewOf } from '../values/bytes.js';
import { checkBytes, tooLarge } from '../values/validate.js';
import { FRAME_HEADER_SIZE, MAX_FRAME_BODY } from './constants.js';

/**
 * Seals a frame whose body (`bodyLength` bytes) is already in place at `offset + 8`:
 * writes `len`, then the CRC32C of `len` and the body. WAL_BAD_ARGUMENT if it does not fit.
 */
export function sealFrame(target: Buffer, offset: number, bodyLength: number): void {
  if (bodyLength < 1 || bodyLength > MAX_FRAME_BODY || !Number.isInteger(bodyLength))
    badArgument('bodyLength', `an integer in 1..${MAX_FRAME_BODY}`, bodyLength);
  const end = offset + FRAME_HEADER_SIZE + bodyLength;
  if (offset < 0 || end > target.length) frameDoesNotFit(end - offset, offset, target.length);
  sealFrameAt(target, offset, bodyLength);
}

/** `sealFrame` without argument checks, for encoders that checked the frame already. */
export function sealFrameAt(target: Uint8Array, offset: number, bodyLength: number): void {
  const view = viewOf(target);
  view.setUint32(offset + 4, bodyLength, true);
  view.setUint32(
    offset,
    crc32cRange(target, offset + 4, offset + FRAME_HEADER_SIZE + bodyLength, 0),
    true,
  );
}

/** Writes a frame holding `body` at `offset`; returns the bytes written (8 + body length). */
export function encodeFrame(target: Buffer, offset: number, body: Uint8Array): number {
  checkBytes('body', body);
  if (body.length === 0) badArgument('body', 'at least 1 byte (its kind)', body);
  if (body.length > MAX_FRAME_BODY)
    tooLarge('the frame body', body.length, MAX_FRAME_BODY, 'split it into smaller records');
  target.set(body, offset + FRAME_HEADER_SIZE);
  sealFrame(target, offset, body.length);
  return FRAME_HEADER_SIZE + body.length;
}
