import { type FileHandle, open } from 'node:fs/promises';
import {
  decodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  ioErrorFromNode,
} from '@walnut/codec';

/**
 * The Walnut file header at the start of `path`, or null when the file does not start with
 * one (too short, damaged, someone else's file). WAL_IO when the file cannot be read.
 */
export async function readFileHeader(path: string): Promise<FileHeader | null> {
  const bytes = Buffer.alloc(FILE_HEADER_SIZE);
  let read: number;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw ioErrorFromNode(error, 'open', path);
  }
  try {
    ({ bytesRead: read } = await handle.read(bytes, 0, FILE_HEADER_SIZE, 0));
  } catch (error) {
    throw ioErrorFromNode(error, 'read', path);
  } finally {
    await handle.close();
  }
  try {
    return decodeFileHeader(bytes.subarray(0, read), path);
  } catch {
    return null;
  }
}
