import { open } from 'node:fs/promises';
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
  try {
    const handle = await open(path, 'r');
    try {
      ({ bytesRead: read } = await handle.read(bytes, 0, FILE_HEADER_SIZE, 0));
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ioErrorFromNode(error, 'read', path);
  }
  try {
    return decodeFileHeader(bytes.subarray(0, read), path);
  } catch {
    return null;
  }
}
