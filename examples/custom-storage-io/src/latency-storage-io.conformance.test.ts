import { createStorageIo } from '@walnut/storage-io';
import { runStorageIoConformance } from '@walnut/storage-io/conformance';
import { LatencyRecordingStorageIo } from './latency-storage-io.js';

// The same suite every built-in backend passes, run against the plugin wrapping the
// backend `auto` picks on this machine (io_uring here, sync-fs where it is unavailable)…
runStorageIoConformance('latency(auto)', () => new LatencyRecordingStorageIo(createStorageIo()));

// …and wrapping the portable node:fs backend.
runStorageIoConformance(
  'latency(sync-fs)',
  () => new LatencyRecordingStorageIo(createStorageIo({ backend: 'sync-fs' })),
);
