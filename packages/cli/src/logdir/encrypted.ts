import { Errno, isWalError, WalError, WalErrorCode } from '@walnut/codec';
import type { SegmentFile } from './directory.js';
import { readFileHeader } from './file-header.js';
import type { SegmentScan } from './scan.js';

/**
 * What to do instead of a CLI command on an encrypted log: the same through the library,
 * from code that holds the log's KeyRing. One place, so every refusal and every piece of
 * advice about an encrypted log says the same.
 */
export function fromCodeWithKey(command: string, dir: string): string {
  const open = `Wal.open(${JSON.stringify(dir)}).encryption(ring)`;
  if (command === 'repair')
    return `salvage it from code with its KeyRing: \`await ${open}.recovery('salvage').build()\` keeps every intact record (copy the directory aside first)`;
  if (command === 'truncate')
    return `cut it from code with its KeyRing: \`(await ${open}.build()).truncateBefore(lsn)\` (or truncateAfter)`;
  return `read its records from code with its KeyRing: \`(await ${open}.build()).replay(1n, fn)\``;
}

/**
 * The CLI takes no keys. `inspect` and `verify` check an encrypted log without one (frame
 * CRCs, headers); the commands that show or rewrite records refuse it with this error.
 */
export function encryptedLogError(
  dir: string,
  segment: SegmentFile,
  keyId: number | null,
  command: string,
): WalError {
  const key = keyId === null ? '' : `, key id ${keyId}`;
  return new WalError(
    WalErrorCode.KEY_MISSING,
    `${dir} is encrypted (${segment.name}: aes-256-gcm${key}) and the CLI takes no keys, so \`walnut ${command}\` cannot ${command === 'repair' || command === 'truncate' ? 'open it to change it' : 'read its records'}; ${fromCodeWithKey(command, dir)}`,
    { details: { segment: segment.path, ...(keyId === null ? {} : { keyId }) } },
  );
}

/** Whether the segment `scan` read is encrypted (its header says so, or it holds encrypted frames). */
export function isEncryptedScan(scan: SegmentScan): boolean {
  return scan.encryptedFrames > 0 || scan.header?.cipher === 'aes-256-gcm';
}

/** The error refusing `command` when the segment `scan` read is encrypted; null when it is not. */
export function encryptedScanError(
  dir: string,
  scan: SegmentScan,
  command: string,
): WalError | null {
  if (!isEncryptedScan(scan)) return null;
  return encryptedLogError(dir, scan.file, scan.header?.keyId ?? null, command);
}

/** The first segment whose header says it is encrypted, with its key id; null if none is. */
export async function firstEncryptedSegment(
  files: readonly SegmentFile[],
): Promise<{ segment: SegmentFile; keyId: number } | null> {
  for (const segment of files) {
    // A damaged header is the library's to report when the command opens the log; a file
    // deleted since the listing (a writer's retention, beside us) is no segment any more.
    const header = await readFileHeader(segment.path).catch((error: unknown) => {
      if (isWalError(error) && error.details.errno === Errno.ENOENT) return null;
      throw error;
    });
    if (header !== null && header.cipher !== 'none') return { segment, keyId: header.keyId };
  }
  return null;
}
