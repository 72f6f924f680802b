import { createStorageIo, IoUringStorageIo } from '@walnut/storage-io';
import { runStorageIoConformance } from '@walnut/storage-io/conformance';
import { ioUringForTests } from '@walnut/storage-io/testing';
import { LatencyRecordingStorageIo } from './latency-storage-io.js';

// The same suite every built-in backend passes, run against the plugin wrapping the
// portable node:fs backend…
runStorageIoConformance(
  'latency(sync-fs)',
  () => new LatencyRecordingStorageIo(createStorageIo({ backend: 'sync-fs' })),
);

// …and wrapping io_uring, where this machine has it (the ring size storage-io's own
// suite uses).
// (`ioUringForTests` fails instead of skipping under WALNUT_REQUIRE_IO_URING=1.)
runStorageIoConformance(
  'latency(io_uring)',
  () => new LatencyRecordingStorageIo(IoUringStorageIo.create({ entries: 64 })),
  { skip: ioUringForTests().skip },
);
