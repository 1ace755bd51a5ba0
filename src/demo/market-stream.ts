import WebSocket from 'ws';

/** One message of `WS /v1/stream` (docs/market-data.md). */
export type StreamMessage = { op?: string; channel?: string; type?: string; instrument?: string; [field: string]: unknown };

export type Subscription = { channel: 'book' | 'trades' | 'ticker'; instrument: string } | { channel: 'orders' | 'fills' };

/**
 * A client of the public stream: connects (with an API key for the private `orders` and `fills`
 * channels), subscribes, and hands every message to `onMessage`. It reconnects after a drop and
 * subscribes again, which also brings a fresh book snapshot, as the stream's rules ask.
 */
export class MarketStream {
  private socket: WebSocket | undefined;
  private closed = false;

  constructor(
    private readonly baseUrl: string,
    private readonly subscriptions: Subscription[],
    private readonly onMessage: (message: StreamMessage) => void,
    private readonly apiKey?: string,
  ) {}

  /** Resolves once every subscription is acknowledged. */
  async open(): Promise<void> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/v1/stream`;
    const socket = new WebSocket(url, this.apiKey ? { headers: { authorization: `Bearer ${this.apiKey}` } } : {});
    this.socket = socket;
    let pending = this.subscriptions.length;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as StreamMessage;
        if (message.op === 'subscribed' && --pending === 0) resolve();
        if (message.op === 'error') this.onMessage(message);
        if (message.channel) this.onMessage(message);
      });
      socket.once('open', () => {
        for (const s of this.subscriptions) socket.send(JSON.stringify({ op: 'subscribe', ...s }));
        if (pending === 0) resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (!this.closed) setTimeout(() => void this.open().catch(() => undefined), 1_000);
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }
}
