import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `text` to a new file and fsyncs it before returning, so that a name linked or
 * renamed to it afterwards never survives a power cut pointing at an empty file.
 */
export function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Fsyncs the directory holding `path`, making a link, rename or unlink in it durable. */
export function syncDirectoryOf(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
