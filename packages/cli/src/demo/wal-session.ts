import { Wal, type WalOptions } from '@walnut/wal';

/** The facts about a running Wal the demo and bench show: fsyncs done and the backend in use. */
export interface WalFacts {
  readonly fsyncs: number;
  readonly backend: string;
  readonly backendReason: string;
}

export function openWal(dir: string, options: WalOptions = {}): Promise<Wal> {
  return Wal.open(dir).options(options).build();
}

export function walFacts(wal: Wal): WalFacts {
  const stats = wal.stats();
  return { fsyncs: stats.syncs, backend: stats.backend.name, backendReason: stats.backend.reason };
}
