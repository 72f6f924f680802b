export {
  type PortableContent,
  type PortableWalStats,
  PortableWalWriter,
  type PortableWalWriterConfig,
} from './portable-wal-writer.js';
export type { PortableRecovery } from './scan-portable.js';
