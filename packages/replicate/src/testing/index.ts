export {
  type ClusterOptions as NatsClusterOptions,
  freePort,
  NatsCluster,
  NatsNode,
  natsServerBinary,
  sleep,
  TcpProxy,
} from './nats-cluster.js';
