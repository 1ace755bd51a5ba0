/**
 * Order entry over `WS /v1/stream` for `bench/orders.bench.ts`: one authenticated connection per
 * trader, each keeping a window of `place` messages in flight (a new one as each is answered),
 * as a market maker's quoting engine does. Latency is from sending to the `placed` answer, which
 * comes after the commit.
 */
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import type { Trader } from './orders-load.js';

export interface StreamLoadResult {
  readonly sent: number;
  readonly seconds: number;
  /** `placed` answers: each a committed order. */
  readonly placed: number;
  /** Error answers by code (QUEUE_FULL, INSUFFICIENT_FUNDS, ...), and connections lost. */
  readonly codes: Map<string, number>;
  /** Latency of `placed` answers in microseconds. */
  readonly latency: hdr.Histogram;
}

export async function streamLoad(options: {
  readonly url: string;
  readonly traders: ReadonlyArray<Trader & { readonly buy: boolean }>;
  /** Messages each connection keeps in flight. */
  readonly window: number;
  readonly seconds: number;
  /** The next order of a side, as the POST /v1/orders body. */
  readonly order: (buy: boolean) => Record<string, unknown>;
  readonly progress: (placed: number, elapsedSeconds: number) => void;
}): Promise<StreamLoadResult> {
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const codes = new Map<string, number>();
  const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);
  let sent = 0;
  let placed = 0;
  const sockets = await Promise.all(options.traders.map((trader) => connect(options.url, trader.key)));
  const start = performance.now();
  const stopAt = start + options.seconds * 1000;
  const progress = setInterval(() => options.progress(placed, (performance.now() - start) / 1000), 1000);

  await Promise.all(
    sockets.map(
      (socket, i) =>
        new Promise<void>((resolve) => {
          const sentAt = new Map<number, number>();
          let next = 0;
          const send = () => {
            const id = next++;
            sentAt.set(id, performance.now());
            sent++;
            socket.send(JSON.stringify({ op: 'place', id, ...options.order(options.traders[i].buy) }));
          };
          const done = () => {
            socket.removeAllListeners('message');
            resolve();
          };
          socket.on('message', (data) => {
            const message = JSON.parse(data.toString()) as { op?: string; id?: number; code?: string };
            if (typeof message.id !== 'number') return; // a frame of a channel, not an answer
            const at = sentAt.get(message.id);
            sentAt.delete(message.id);
            if (message.op === 'placed' && at !== undefined) {
              placed++;
              latency.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
            } else count(message.code ?? String(message.op));
            if (performance.now() < stopAt) send();
            else if (sentAt.size === 0) done();
          });
          socket.once('close', () => {
            if (sentAt.size > 0) count('connection lost');
            done();
          });
          for (let k = 0; k < options.window; k++) send();
        }),
    ),
  );
  clearInterval(progress);
  const seconds = (performance.now() - start) / 1000;
  for (const socket of sockets) socket.close();
  return { sent, seconds, placed, codes, latency };
}

/** An authenticated stream connection. */
async function connect(url: string, key: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/stream`, { headers: { authorization: `Bearer ${key}` } });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('message', (data) => {
      const message = JSON.parse(data.toString()) as { op?: string; message?: string };
      if (message.op === 'authenticated') resolve();
      else reject(new Error(`stream authentication failed: ${message.message}`));
    });
  });
  return socket;
}
