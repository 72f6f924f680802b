import { badArgument } from '@walnut/codec';

/** Core ids are u16 in the format. */
export function checkCoreId(coreId: unknown): asserts coreId is number {
  if (typeof coreId !== 'number' || !Number.isInteger(coreId) || coreId < 0 || coreId > 0xffff)
    badArgument('coreId', 'an integer from 0 to 65535', coreId);
}
