export type { PortableContent, PortableWalWriterConfig } from './portable-options.js';
export { type PortableWalStats, PortableWalWriter } from './portable-wal-writer.js';
export type { PortableRecovery } from './scan-portable.js';
