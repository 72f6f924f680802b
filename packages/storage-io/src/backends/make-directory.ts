import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { WalError, WalErrorCode } from '@walnut/codec';
import { Errno, ioErrorFromErrno, ioErrorFromNode } from '../contract/errors.js';

/**
 * Creates `path` and its missing ancestors, one plain mkdir(2) each: at most two calls per
 * component of the path. Not `fs.mkdirSync(path, { recursive: true })`: on Node 20 that
 * loops forever, blocking the event loop, when mkdir fails with ENOENT although the parent
 * exists (a path under /proc or /sys).
 */
export function makeDirectory(path: string): void {
  if (tryMkdir(path)) return;
  const parent = dirname(path);
  if (parent === path) throw ioErrorFromErrno(Errno.ENOENT, 'mkdir', path);
  makeDirectory(parent);
  if (!tryMkdir(path)) throw cannotCreateUnder(path, parent);
}

/** True when `path` is now a directory; false when mkdir failed with ENOENT. */
function tryMkdir(path: string): boolean {
  try {
    fs.mkdirSync(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code !== 'EEXIST') throw ioErrorFromNode(error, 'mkdir', path);
    if (isDirectory(path)) return true;
    throw ioErrorFromErrno(Errno.ENOTDIR, 'mkdir', path, error);
  }
}

function isDirectory(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function cannotCreateUnder(path: string, parent: string): WalError {
  return new WalError(
    WalErrorCode.IO,
    `cannot create ${path}: mkdir failed with ENOENT although ${parent} exists (a virtual file system such as /proc or /sys does not take new directories): put the log in a directory on a regular file system`,
    { details: { errno: Errno.ENOENT, syscall: 'mkdir', path } },
  );
}
