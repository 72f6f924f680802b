// The REPLICATION file's own reader and writer, for crash tests that cut power around it.
export { type LocalState, readLocalState, writeLocalState } from '../local/local-state.js';
export {
  type ClusterOptions as NatsClusterOptions,
  NatsCluster,
  NatsNode,
  natsServerBinary,
  sleep,
} from './nats-cluster.js';
export {
  FAULT_KINDS,
  type FaultKind,
  type NemesisOptions,
  type NemesisReport,
  nemesisPayload,
  runNemesis,
} from './nemesis.js';
export { freePort } from './ports.js';
export { RouteProxy } from './route-proxy.js';
export { readStreamCopy } from './stream-files.js';
export { TcpProxy } from './tcp-proxy.js';
