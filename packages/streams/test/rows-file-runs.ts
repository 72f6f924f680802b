import { readRowsFile } from '../src/rows-file.js';
import { ROW } from '../src/stream-index.js';

/**
 * The runs of rows file `file` as plain numbers, read as the log's side-file read does
 * (fewer bytes where the file ends), with what the reader counted; undefined when refused.
 */
export async function runsOf(file: Buffer, generation: number, length = file.length) {
  const list: { id: number; first: number; rows: number[] }[] = [];
  // A copy of its own, as the side-file read gives.
  const read = async (offset: number, want: number) =>
    Buffer.from(new Uint8Array(file.subarray(offset, offset + want)));
  const counted = await readRowsFile(read, generation, length, (id, first, numbers, from, n) => {
    list.push({ id, first, rows: [...numbers.subarray(from, from + n * ROW)] });
    return true;
  });
  return counted === undefined ? undefined : { ...counted, list };
}
