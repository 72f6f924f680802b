import { type AddressInfo, createServer, type Server } from 'node:net';

/** The only address the test servers listen on or dial: loopback. */
export const LOOPBACK = '127.0.0.1';

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` distinct free TCP ports on 127.0.0.1: all held at once, then released. Asking
 * one at a time can get the same port twice (a node's client and cluster port, say).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listeningOnAnyPort()));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export function listeningOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve(server));
  });
}
