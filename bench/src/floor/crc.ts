/** The CRC32C the floor uses: @walnut/codec's, the same fast CRC every Walnut user gets. */
import { NotAvailable } from '../contender.js';

export type Crc32c = (data: Uint8Array, seed?: number) => number;

export async function loadCodecCrc32c(): Promise<Crc32c> {
  // A variable specifier keeps the bench's type check independent of codec's sources.
  const specifier = '@walnut/codec';
  let codec: { crc32c?: unknown };
  try {
    codec = (await import(specifier)) as { crc32c?: unknown };
  } catch (error) {
    throw new NotAvailable(`@walnut/codec cannot be loaded (${(error as Error).message})`);
  }
  if (typeof codec.crc32c !== 'function') {
    throw new NotAvailable('@walnut/codec does not export crc32c yet');
  }
  return codec.crc32c as Crc32c;
}
