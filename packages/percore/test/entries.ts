import type { CoreEntry } from '@walnut/codec';

/** An entry as its key (puts and deletes) or its op (the rest): what recovery tests compare. */
export const keyOf = (e: CoreEntry) =>
  e.op === 'put' || e.op === 'delete' ? e.key.toString() : e.op;
