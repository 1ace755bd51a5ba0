import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { DomainError } from '../common/domain-error.js';
import type { PriceGrid } from '../markets/price.js';
import type { CommittedBatch } from '../orders/book-events.js';
import { BookGateway } from '../orders/book-gateway.js';
import { ApiKeyAuthenticator } from '../participants/api-key-authenticator.js';
import { bookDelta, bookView, ownFillView, ownOrderView, tradeView } from './market-data.format.js';
import { MarketDataService } from './market-data.service.js';
import { type ClientMessage, errorFrame, ORDER_OPS, type OrderMessage, parseClientMessage } from './stream-protocol.js';
import { StreamOrderEntry } from './stream-order-entry.js';
import { StreamSession } from './stream-session.js';
import { StreamKeyWatch } from './stream-key-watch.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';

/** Topics one connection may follow at most. */
const MAX_TOPICS = 100;

interface Follower {
  readonly session: StreamSession;
  /** Book only: the snapshot's sequence; deltas up to it are in the snapshot already. */
  seq?: number;
  /** Book only: deltas published while the snapshot was being taken, sent right after it. */
  pending?: Array<{ seq: number; json: string }>;
}

/**
 * The stream's subscriptions and their fan-out (order entry over the stream: StreamOrderEntry). Every committed batch of every book, whichever
 * process owns it (`BookGateway.onCommitted`, through Redis), is formatted once per topic and
 * sent to its followers: book deltas, trades, a fresh ticker, and each owner's changed orders and
 * fills on its own topics.
 * Batches of one instrument are dispatched through one promise chain, so followers receive them
 * in commit order even when a lookup has to wait.
 */
@Injectable()
export class StreamHub implements OnModuleDestroy {
  private readonly logger = new Logger(StreamHub.name);
  /** `book:SYMBOL`, `trades:SYMBOL`, `ticker:SYMBOL`, `orders:<participant id>`, `fills:<participant id>`. */
  private readonly topics = new Map<string, Map<StreamSession, Follower>>();
  /** Instrument terms never change after listing, so a grid is looked up once. */
  private readonly grids = new Map<string, Promise<PriceGrid>>();
  private readonly dispatching = new Map<string, Promise<void>>();
  /** Ticker refreshes in flight, per instrument; `again`: another batch traded meanwhile. */
  private readonly tickerRefreshes = new Map<string, { again: boolean }>();
  private readonly unsubscribe: () => void;
  private readonly keyWatch: StreamKeyWatch;

  constructor(
    books: BookGateway,
    private readonly marketData: MarketDataService,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly orderEntry: StreamOrderEntry,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.unsubscribe = books.onCommitted((batch) => this.onCommitted(batch));
    // Within the key cache's TTL, as every API request (a TTL of 0 caches nothing: then each second).
    const recheckMs = config.http.apiKeyCacheTtlMs > 0 ? config.http.apiKeyCacheTtlMs : 1_000;
    this.keyWatch = new StreamKeyWatch(authenticator, recheckMs, (session, apiKeyId, standing) => this.closePrivate(session, apiKeyId, standing));
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    this.keyWatch.stop();
  }

  /** A new connection; an `Authorization: Bearer` header at the upgrade counts as an `auth` message. */
  connect(socket: WebSocket, authorization: string | undefined): StreamSession {
    const session = new StreamSession(socket);
    if (authorization !== undefined) {
      const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
      session.enqueue(() =>
        key === undefined
          ? Promise.resolve(session.refuse(errorFrame('UNAUTHENTICATED', 'malformed Authorization header: expected "Bearer <api key>"')))
          : this.run(session, { op: 'auth', apiKey: key }),
      );
    }
    return session;
  }

  receive(session: StreamSession, text: string | undefined): void {
    session.enqueue(async () => {
      if (text === undefined) return session.refuse(errorFrame('INVALID_MESSAGE', 'messages are JSON text frames'));
      const parsed = parseClientMessage(text);
      if (!parsed.ok) return session.refuse(parsed.error);
      await this.run(session, parsed.message);
    });
  }

  disconnect(session: StreamSession): void {
    this.keyWatch.forget(session);
    for (const key of session.topics) this.unfollow(key, session);
  }

  /** The session's key was revoked or its participant suspended: its private channels close, public ones stay. */
  private closePrivate(session: StreamSession, apiKeyId: string, standing: 'revoked' | 'suspended'): void {
    session.enqueue(async () => {
      if (session.principal?.apiKeyId !== apiKeyId) return; // authenticated again meanwhile, with another key
      session.principal = undefined;
      this.keyWatch.forget(session);
      const closed = [...session.topics].filter(isPrivateTopic);
      for (const key of closed) this.unfollow(key, session);
      const [code, why] = standing === 'revoked' ? ['API_KEY_REVOKED', 'the API key was revoked'] : ['PARTICIPANT_SUSPENDED', 'the participant is suspended'];
      session.send({ op: 'error', code, message: `${why}: the private channels (orders, fills) are closed; authenticate again to follow them` });
      for (const key of closed) session.send({ op: 'unsubscribed', channel: key.split(':')[0] });
    });
  }

  private async run(session: StreamSession, message: ClientMessage): Promise<void> {
    try {
      await this.execute(session, message);
    } catch (error) {
      if (error instanceof DomainError) return session.refuse(errorFrame(error.code, error.message, message.id));
      this.logger.error({ err: error }, 'stream request failed');
      session.refuse(errorFrame('INTERNAL', 'internal error', message.id));
    }
  }

  private async execute(session: StreamSession, message: ClientMessage): Promise<void> {
    const id = message.id === undefined ? {} : { id: message.id };
    if (message.op === 'auth') {
      const principal = await this.authenticator.authenticate(message.apiKey);
      // Another key may be another participant: what the previous one followed is not for this one.
      if (session.principal && session.principal.participantId !== principal.participantId) {
        for (const key of session.topics) if (isPrivateTopic(key)) this.unfollow(key, session);
      }
      session.principal = principal;
      this.keyWatch.watch(session);
      return session.send({ op: 'authenticated', participantId: principal.participantId, ...id });
    }
    if (isOrderMessage(message)) return this.orderEntry.handle(session, message);

    const instrument = 'instrument' in message ? message.instrument : undefined;
    const ack = { channel: message.channel, ...(instrument !== undefined ? { instrument } : {}), ...id };
    let key: string;
    if (instrument === undefined) {
      if (!session.principal) throw new DomainError('AUTH_REQUIRED', `the ${message.channel} channel needs {"op":"auth","apiKey":"..."} first`, 'unauthenticated');
      key = `${message.channel}:${session.principal.participantId}`;
    } else {
      key = `${message.channel}:${instrument}`;
    }
    if (message.op === 'unsubscribe') {
      this.unfollow(key, session);
      return session.send({ op: 'unsubscribed', ...ack });
    }
    if (!session.topics.has(key) && session.topics.size >= MAX_TOPICS) {
      throw new DomainError('TOO_MANY_SUBSCRIPTIONS', `a connection may follow at most ${MAX_TOPICS} channels`, 'rate_limited');
    }
    if (instrument === undefined) {
      this.follow(key, { session });
      return session.send({ op: 'subscribed', ...ack });
    }

    const grid = await this.gridOf(instrument);
    if (message.channel === 'book') {
      // Deltas that arrive while the snapshot is taken wait; after it, those it already holds are dropped.
      const follower: Follower = { session, pending: [] };
      this.follow(key, follower);
      try {
        const view = await this.marketData.committedView(instrument);
        session.send({ op: 'subscribed', ...ack });
        const { sequence, bids, asks } = bookView(instrument, view, grid);
        session.send({ channel: 'book', type: 'snapshot', instrument, seq: sequence, bids, asks });
        follower.seq = sequence;
        for (const delta of follower.pending!) if (delta.seq > sequence) session.sendRaw(delta.json);
        follower.pending = undefined;
      } catch (error) {
        this.unfollow(key, session);
        throw error;
      }
    } else if (message.channel === 'ticker') {
      this.follow(key, { session });
      session.send({ op: 'subscribed', ...ack });
      session.send({ channel: 'ticker', ...(await this.marketData.ticker(instrument)) });
    } else {
      this.follow(key, { session });
      session.send({ op: 'subscribed', ...ack });
    }
  }

  private follow(key: string, follower: Follower): void {
    let followers = this.topics.get(key);
    if (!followers) this.topics.set(key, (followers = new Map()));
    followers.set(follower.session, follower);
    follower.session.topics.add(key);
  }

  private unfollow(key: string, session: StreamSession): void {
    const followers = this.topics.get(key);
    followers?.delete(session);
    if (followers?.size === 0) this.topics.delete(key);
    session.topics.delete(key);
  }

  private gridOf(symbol: string): Promise<PriceGrid> {
    let grid = this.grids.get(symbol);
    if (!grid) {
      grid = this.marketData.instrument(symbol).then((spec) => ({ tickMicroUsdPerMTok: spec.tickMicroUsdPerMTok, lotTokens: spec.lotTokens }));
      this.grids.set(symbol, grid);
      grid.catch(() => this.grids.delete(symbol));
    }
    return grid;
  }

  private onCommitted(batch: CommittedBatch): void {
    if (this.topics.size === 0) return;
    const symbol = batch.instrument;
    const next = (this.dispatching.get(symbol) ?? Promise.resolve())
      .then(async () => this.publish(batch, await this.gridOf(symbol)))
      .catch((error: unknown) => this.logger.error({ err: error, instrument: symbol }, 'could not publish a batch'));
    this.dispatching.set(symbol, next);
    void next.then(() => {
      if (this.dispatching.get(symbol) === next) this.dispatching.delete(symbol);
    });
  }

  private publish(batch: CommittedBatch, grid: PriceGrid): void {
    const { instrument, seq } = batch;
    // Every batch, even one that changed no level, so that followers can check the sequence has no gap.
    this.broadcast(`book:${instrument}`, () => ({ channel: 'book', type: 'delta', instrument, ...bookDelta(batch, grid) }), seq);
    if (batch.fills.length > 0) {
      this.broadcast(`trades:${instrument}`, () => ({ channel: 'trades', instrument, seq, trades: batch.fills.map((f) => tradeView(f, grid)) }));
      if (this.topics.has(`ticker:${instrument}`)) this.refreshTicker(instrument);
    }
    const orders = groupBy(batch.orders, (o) => [o.participantId]);
    for (const [owner, own] of orders) {
      this.broadcast(`orders:${owner}`, () => ({ channel: 'orders', instrument, seq, orders: own.map((o) => ownOrderView(o, grid)) }));
    }
    const fills = groupBy(batch.fills, (f) => [f.buyerId, f.sellerId]);
    for (const [owner, own] of fills) {
      const views = own.flatMap((f) => [
        ...(f.buyerId === owner ? [ownFillView(f, 'buy', instrument, grid)] : []),
        ...(f.sellerId === owner ? [ownFillView(f, 'sell', instrument, grid)] : []),
      ]);
      this.broadcast(`fills:${owner}`, () => ({ channel: 'fills', instrument, seq, fills: views }));
    }
  }

  /** Serialises the message once, and only if the topic has followers. */
  private broadcast(key: string, message: () => object, seq?: number): void {
    const followers = this.topics.get(key);
    if (!followers) return;
    const json = JSON.stringify(message());
    for (const follower of followers.values()) {
      if (seq !== undefined && follower.pending) follower.pending.push({ seq, json });
      else if (seq === undefined || follower.seq === undefined || seq > follower.seq) follower.session.sendRaw(json);
    }
  }

  /** One ticker query per instrument at a time; batches that trade meanwhile ask for one more. */
  private refreshTicker(symbol: string): void {
    const running = this.tickerRefreshes.get(symbol);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true };
    this.tickerRefreshes.set(symbol, state);
    void (async () => {
      while (state.again && this.topics.has(`ticker:${symbol}`)) {
        state.again = false;
        try {
          const ticker = await this.marketData.ticker(symbol);
          this.broadcast(`ticker:${symbol}`, () => ({ channel: 'ticker', ...ticker }));
        } catch (error) {
          this.logger.warn({ err: error, instrument: symbol }, 'could not refresh the ticker');
        }
      }
      this.tickerRefreshes.delete(symbol);
    })();
  }
}

const isOrderMessage = (message: ClientMessage): message is OrderMessage => (ORDER_OPS as readonly string[]).includes(message.op);
const isPrivateTopic = (key: string) => key.startsWith('orders:') || key.startsWith('fills:');

function groupBy<T>(items: readonly T[], keys: (item: T) => string[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    for (const key of new Set(keys(item))) {
      const group = groups.get(key);
      if (group) group.push(item);
      else groups.set(key, [item]);
    }
  }
  return groups;
}
