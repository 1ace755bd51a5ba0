import { once } from 'node:events';
import net from 'node:net';

/** A TCP port free on 127.0.0.1 now, for a child service to listen on. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** xorshift32 in [0, 1): a seeded generator, so a benchmark's workload can be replayed. */
export function random(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
