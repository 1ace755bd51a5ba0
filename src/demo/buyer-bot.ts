import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { ApiError, TokexClient } from './tokex-client.js';
import { MarketStream } from './market-stream.js';
import { OrderBookView } from './order-book-view.js';
import { priceToTicks, ticksToPrice } from './decimal.js';

export interface BuyerBotOptions {
  readonly name: string;
  readonly tokexUrl: string;
  readonly apiKey: string;
  readonly modelClassId: string;
  readonly spot: string;
  /** A forward to hedge next week's needs on, if any. */
  readonly forward?: string;
  /**
   * Where each provider's node is (provider id → OpenAI base URL of its node agent). The v1 API
   * does not publish node addresses; a provider tells its buyers, as here.
   */
  readonly endpoints: ReadonlyMap<string, string>;
  readonly random: () => number;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

interface Delivery {
  readonly id: string;
  readonly instrument: string;
  readonly providerId: string;
  readonly ordered: number;
  readonly status: string;
}

/**
 * A buyer (the reference for a buyer's own client), on the public REST API, the stream and its
 * providers' nodes only:
 *
 * - it follows the spot and forward books on the stream (snapshot + deltas, `OrderBookView`);
 * - every 1 to 2.5 s it buys 10,000 to 60,000 spot tokens at the best ask (limit IOC: it never
 *   rests, never pays more than the ask it saw); each fill is a delivery;
 * - it hedges: a resting bid on the forward, and every ~6 s it lifts the best forward ask for
 *   1,000,000 tokens of next week;
 * - for every delivery it gets a delivery key (`POST /v1/deliveries/:id/keys`) and consumes the
 *   tokens with the official `openai` client against the provider's node, the key as its API key,
 *   streamed and not, until the delivery's tokens are used.
 */
export class BuyerBot {
  readonly stats = { orders: 0, fills: 0, boughtTokens: 0, requests: 0, failedRequests: 0, completionTokens: 0, promptTokens: 0 };
  private readonly client: TokexClient;
  private readonly spotBook = new OrderBookView();
  private readonly forwardBook = new OrderBookView();
  private readonly keys = new Map<string, { client: OpenAI; used: number; ordered: number }>();
  private stream: MarketStream | undefined;
  private running = false;
  private seq = 0;
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly options: BuyerBotOptions) {
    this.client = new TokexClient(options.tokexUrl, options.apiKey);
  }

  async start(): Promise<void> {
    this.running = true;
    const { spot, forward } = this.options;
    this.stream = new MarketStream(
      this.options.tokexUrl,
      [{ channel: 'book', instrument: spot }, ...(forward ? [{ channel: 'book' as const, instrument: forward }] : []), { channel: 'fills' }],
      (message) => {
        if (message.channel === 'book') (message.instrument === spot ? this.spotBook : this.forwardBook).apply(message);
        if (message.channel === 'fills') {
          for (const fill of (message.fills ?? []) as Array<{ quantity: number }>) {
            this.stats.fills += 1;
            if (message.instrument === spot) this.stats.boughtTokens += fill.quantity;
          }
        }
      },
      this.options.apiKey,
    );
    await this.stream.open();
    this.loops.push(this.every(1_000, 2_500, () => this.buySpot()));
    if (forward) this.loops.push(this.every(5_000, 7_000, () => this.hedge(forward)));
    this.loops.push(this.every(2_000, 2_000, () => this.collectDeliveries()));
    this.loops.push(this.every(150, 300, () => this.consume()));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stream?.close();
    await Promise.all(this.loops);
    for (const instrument of [this.options.spot, this.options.forward]) {
      if (instrument) await this.client.delete(`/v1/orders?instrument=${instrument}`).catch(() => undefined);
    }
  }

  private async every(minMs: number, maxMs: number, work: () => Promise<void>): Promise<void> {
    while (this.running) {
      await work().catch((error) => this.options.log('buyer.error', { bot: this.options.name, error: String(error) }));
      await new Promise((resolve) => setTimeout(resolve, minMs + Math.floor(this.options.random() * (maxMs - minMs))));
    }
  }

  private async buySpot(): Promise<void> {
    const ask = this.spotBook.bestAsk();
    if (!ask) return;
    const quantity = Math.min(ask.quantity, (10 + Math.floor(this.options.random() * 50)) * 1_000);
    await this.order(this.options.spot, 'buy', ask.price, quantity, 'IOC');
  }

  private bidPlaced = false;

  private async hedge(forward: string): Promise<void> {
    const ask = this.forwardBook.bestAsk();
    if (!this.bidPlaced && ask) {
      // A resting bid well under the offer: with the offer, the book has a mid to mark at.
      const bid = ticksToPrice(Math.floor((priceToTicks(ask.price) * 8) / 10));
      this.bidPlaced = (await this.order(forward, 'buy', bid, 1_000_000, 'GTC')) !== undefined;
    }
    if (ask) await this.order(forward, 'buy', ask.price, Math.min(ask.quantity, 1_000_000), 'IOC');
  }

  private async order(instrument: string, side: 'buy' | 'sell', price: string, quantity: number, timeInForce: 'IOC' | 'GTC'): Promise<string | undefined> {
    const clientOrderId = `${this.options.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${++this.seq}`;
    try {
      const order = await this.client.post<{ id: string; filledQuantity: number }>('/v1/orders', { instrument, side, type: 'limit', price, quantity, timeInForce, clientOrderId });
      this.stats.orders += 1;
      this.options.log('buyer.order', { bot: this.options.name, instrument, side, price, quantity, timeInForce, filled: order.filledQuantity });
      return order.id;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      this.options.log('buyer.rejected', { bot: this.options.name, instrument, code: error.code, message: error.message });
      return undefined;
    }
  }

  /** New spot deliveries get a key and an OpenAI client pointed at their provider's node. */
  private async collectDeliveries(): Promise<void> {
    const deliveries = await this.client.all<Delivery>('/v1/deliveries?as=buyer&status=open');
    for (const d of deliveries) {
      if (this.keys.has(d.id) || d.instrument !== this.options.spot) continue;
      const baseURL = this.options.endpoints.get(d.providerId);
      if (!baseURL) continue;
      const key = await this.client.post<{ token: string }>(`/v1/deliveries/${d.id}/keys`, {});
      this.keys.set(d.id, { client: new OpenAI({ apiKey: key.token, baseURL, maxRetries: 0, timeout: 20_000 }), used: 0, ordered: d.ordered });
      this.options.log('buyer.delivery-key', { bot: this.options.name, delivery: d.id, provider: d.providerId, ordered: d.ordered });
    }
  }

  /** One inference request on a delivery that still has tokens, taking turns between deliveries. */
  private async consume(): Promise<void> {
    const open = [...this.keys.entries()].filter(([, k]) => k.used + 300 < k.ordered);
    if (open.length === 0) return;
    const [deliveryId, delivery] = open[this.stats.requests % open.length];
    const messages = [{ role: 'user' as const, content: `Summarise capacity report ${randomUUID()} for ${this.options.name}.` }];
    const maxTokens = 32 + Math.floor(this.options.random() * 96);
    this.stats.requests += 1;
    try {
      let usage: { prompt_tokens: number; completion_tokens: number } | undefined | null;
      if (this.stats.requests % 2 === 0) {
        const answer = await delivery.client.chat.completions.create({ model: this.options.modelClassId, messages, max_tokens: maxTokens });
        usage = answer.usage;
      } else {
        const stream = await delivery.client.chat.completions.create({ model: this.options.modelClassId, messages, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } });
        for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
      }
      // What the node says it served; tokex verifies it, and bills min(reported, verified).
      this.stats.promptTokens += usage?.prompt_tokens ?? 0;
      this.stats.completionTokens += usage?.completion_tokens ?? 0;
      delivery.used += (usage?.completion_tokens ?? 0) + Math.floor((usage?.prompt_tokens ?? 0) / 4);
    } catch (error) {
      this.stats.failedRequests += 1;
      this.options.log('buyer.request-failed', { bot: this.options.name, delivery: deliveryId, error: String(error) });
    }
  }
}
