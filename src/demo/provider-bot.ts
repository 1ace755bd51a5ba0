import { ApiError, TokexClient } from './tokex-client.js';
import { MarketStream, type StreamMessage } from './market-stream.js';
import { priceToTicks, ticksToPrice } from './decimal.js';

export interface ProviderBotOptions {
  readonly name: string;
  readonly tokexUrl: string;
  readonly apiKey: string;
  readonly modelClassId: string;
  readonly spot: string;
  /** A forward to offer capacity on (the provider goes short), if any. */
  readonly forward?: string;
  /** Where its quotes start, in ticks of 0.001 USD per million tokens, before the market has an index. */
  readonly startTicks: number;
  readonly random: () => number;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * A provider that lists spare capacity (the reference for a provider's own market maker), on the
 * public REST API and the stream only:
 *
 * - every ~1.5 s it replaces its one resting spot sell: cancel the last, then a new GTC limit
 *   sell a few ticks around the market (the spot index, else the last trade, else its start price),
 *   20,000 to 120,000 tokens (whole lots of 1,000);
 * - on a forward, it keeps one sell of 1,000,000 tokens resting at a premium to spot: capacity for
 *   next week sold today, which its node must be able to serve;
 * - it counts what it sold from its private `fills` channel.
 *
 * Delivery is its node's business (the node agent), not the bot's: buyers come to the node with keys.
 */
export class ProviderBot {
  readonly stats = { quotes: 0, fills: 0, soldTokens: 0, rejects: 0 };
  private readonly client: TokexClient;
  private stream: MarketStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private spotOrderId: string | undefined;
  private forwardOrderId: string | undefined;
  private lastTrade: string | undefined;
  private seq = 0;
  private running = false;

  constructor(private readonly options: ProviderBotOptions) {
    this.client = new TokexClient(options.tokexUrl, options.apiKey);
  }

  async start(): Promise<void> {
    this.running = true;
    this.stream = new MarketStream(this.options.tokexUrl, [{ channel: 'fills' }, { channel: 'trades', instrument: this.options.spot }], (m) => this.onMessage(m), this.options.apiKey);
    await this.stream.open();
    const loop = async () => {
      if (!this.running) return;
      await this.quote().catch((error) => this.options.log('provider.error', { bot: this.options.name, error: String(error) }));
      if (this.running) this.timer = setTimeout(loop, 1_000 + Math.floor(this.options.random() * 1_000));
    };
    void loop();
  }

  /** Stops quoting and cancels its resting orders (mass cancel per instrument). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.stream?.close();
    for (const instrument of [this.options.spot, this.options.forward]) {
      if (instrument) await this.client.delete(`/v1/orders?instrument=${instrument}`).catch(() => undefined);
    }
  }

  private onMessage(message: StreamMessage): void {
    if (message.channel === 'fills') {
      for (const fill of (message.fills ?? []) as Array<{ quantity: number }>) {
        this.stats.fills += 1;
        if (message.instrument === this.options.spot) this.stats.soldTokens += fill.quantity;
      }
    }
    if (message.channel === 'trades') {
      const trades = (message.trades ?? []) as Array<{ price: string }>;
      if (trades.length > 0) this.lastTrade = trades[trades.length - 1].price;
    }
  }

  /** The market's price in ticks: the spot index, else the last trade, else the start price. */
  private async reference(): Promise<number> {
    const index = await this.client.get<{ price: string | null }>(`/v1/index/${this.options.modelClassId}`);
    const price = index.price ?? this.lastTrade;
    return price ? priceToTicks(price) : this.options.startTicks;
  }

  private async quote(): Promise<void> {
    const reference = await this.reference();
    // A few ticks around the market, so the two providers take turns at the top of the book.
    const ticks = Math.max(1, reference - 6 + Math.floor(this.options.random() * 20));
    const quantity = (20 + Math.floor(this.options.random() * 100)) * 1_000;
    this.spotOrderId = await this.replace(this.spotOrderId, this.options.spot, ticks, quantity);
    if (this.options.forward && (this.forwardOrderId === undefined || this.seq % 4 === 0)) {
      this.forwardOrderId = await this.replace(this.forwardOrderId, this.options.forward, reference + 20, 1_000_000);
    }
  }

  /** Cancels `previous` (if still open) and places a GTC limit sell; returns the new order's id. */
  private async replace(previous: string | undefined, instrument: string, ticks: number, quantity: number): Promise<string | undefined> {
    if (previous) await this.client.delete(`/v1/orders/${previous}`).catch(() => undefined); // filled or gone already
    const clientOrderId = `${this.options.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${++this.seq}`;
    try {
      const order = await this.client.post<{ id: string; status: string }>('/v1/orders', { instrument, side: 'sell', type: 'limit', price: ticksToPrice(ticks), quantity, clientOrderId });
      this.stats.quotes += 1;
      this.options.log('provider.quote', { bot: this.options.name, instrument, price: ticksToPrice(ticks), quantity, status: order.status });
      return order.status === 'open' ? order.id : undefined;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      this.stats.rejects += 1; // e.g. capacity, margin or a halted book: try again next round
      this.options.log('provider.rejected', { bot: this.options.name, instrument, code: error.code, message: error.message });
      return undefined;
    }
  }
}
