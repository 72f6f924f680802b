import { KeyRing } from '@walnut/wal';

/** The soak's one encryption key (fixed: the logs are thrown away after each run). */
const KEY = Buffer.alloc(32, 0x5a);

export function soakKeyRing(): KeyRing {
  return new KeyRing([[7, KEY]], 7);
}
