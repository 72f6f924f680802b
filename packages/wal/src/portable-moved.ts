import * as portable from '@walnut/portable';

// Declarations, not `export { … } from '@walnut/portable'`: the type bundler drops a JSDoc
// written on a re-export, so the published types would not say "deprecated" (decision 1001).

/**
 * @deprecated `PortableWalWriter` is a package of its own: import it from `@walnut/portable`.
 * This is the same class, kept here until the next major release (decision 1001).
 */
export const PortableWalWriter = portable.PortableWalWriter;
/** @deprecated Import `PortableWalWriter` from `@walnut/portable` (decision 1001). */
export type PortableWalWriter = portable.PortableWalWriter;
/** @deprecated Import `PortableContent` from `@walnut/portable` (decision 1001). */
export type PortableContent = portable.PortableContent;
/** @deprecated Import `PortableWalStats` from `@walnut/portable` (decision 1001). */
export type PortableWalStats = portable.PortableWalStats;
/** @deprecated Import `PortableWalWriterConfig` from `@walnut/portable` (decision 1001). */
export type PortableWalWriterConfig = portable.PortableWalWriterConfig;
