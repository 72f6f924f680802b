export {
  type PortableContent,
  type PortableWalStats,
  PortableWalWriter,
  type PortableWalWriterConfig,
} from './portable-wal-writer.js';
