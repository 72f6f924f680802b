import {
  decodeFileHeader,
  FILE_HEADER_SIZE,
  FrameCipher,
  FrameScanner,
  type KeyRing,
} from '@walnut/codec';

/** Where one record's frame lies in its segment file. */
export interface FrameSpan {
  lsn: number;
  start: number;
  end: number;
}

/**
 * The frames of an undamaged segment, one per record (the template logs are written with
 * single appends, so a frame never holds a batch). Padding frames are skipped.
 */
export function mapFrames(bytes: Buffer, ring: KeyRing | undefined): FrameSpan[] {
  const header = decodeFileHeader(bytes.subarray(0, FILE_HEADER_SIZE), 'template');
  const cipher = header.cipher === 'none' ? undefined : FrameCipher.forFile(ring!, header);
  const scanner = new FrameScanner(bytes, { start: FILE_HEADER_SIZE, cipher });
  const spans: FrameSpan[] = [];
  for (let start = scanner.offset; scanner.advance(); start = scanner.offset) {
    spans.push({ lsn: scanner.lsnNumber, start, end: scanner.offset });
  }
  if (scanner.stop?.kind !== 'eof') {
    throw new Error(`a template segment does not end cleanly: ${scanner.stop?.reason}`);
  }
  return spans;
}

/** Whether the frame and its segment's header are byte for byte as they were. */
export function frameIntact(
  original: Buffer,
  damaged: Buffer | undefined,
  span: FrameSpan,
): boolean {
  if (damaged === undefined || damaged.length < span.end) return false;
  return (
    damaged.compare(original, 0, FILE_HEADER_SIZE, 0, FILE_HEADER_SIZE) === 0 &&
    damaged.compare(original, span.start, span.end, span.start, span.end) === 0
  );
}

/**
 * The LSN of the last record of a damaged LAST segment after which the file holds only
 * zeros (or ends), with every frame up to it intact: the point where the segment reads
 * exactly like a log that was never written further. A recovery cannot tell records lost
 * past this point from records never written, so losing them silently is not a fault.
 * Returns firstLsn - 1 when only the header is left, null when the segment has no such
 * point (damage before non-zero bytes, or no intact header).
 */
export function cleanEndLsn(
  original: Buffer,
  damaged: Buffer | undefined,
  spans: readonly FrameSpan[],
  firstLsn: number,
): number | null {
  if (damaged === undefined || damaged.length < FILE_HEADER_SIZE) return null;
  if (damaged.compare(original, 0, FILE_HEADER_SIZE, 0, FILE_HEADER_SIZE) !== 0) return null;
  let lastNonZero = damaged.length - 1;
  while (lastNonZero >= 0 && damaged[lastNonZero] === 0) lastNonZero--;
  if (lastNonZero < FILE_HEADER_SIZE) return firstLsn - 1;
  for (const span of spans) {
    if (!frameIntact(original, damaged, span)) return null;
    if (span.end > lastNonZero) return span.lsn;
  }
  // Every record intact, and bytes after the last: a closing writer's durable mark (0329),
  // whole or damaged. A recovery that stops there loses no record.
  return spans.length > 0 ? spans[spans.length - 1]!.lsn : null;
}
