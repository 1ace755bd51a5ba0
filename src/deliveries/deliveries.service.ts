import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { notFound, unprocessable } from '../common/domain-error.js';
import { DeliveryKeysService } from '../delivery-keys/delivery-keys.service.js';
import { decodeCursor, type Page, pageLimit, pageOf } from '../platform/http/pagination.js';
import { MarketsService } from '../markets/markets.service.js';
import type { Principal } from '../platform/http/auth.js';
import type { DeliveryKeyInfo, DeliveryKeyView, DeliveryQuery, DeliveryView } from './deliveries.dto.js';
import { type DeliveryRecord, deliveryFigures } from './delivery-record.js';


const NOT_FOUND = () => notFound('DELIVERY_NOT_FOUND', 'no such delivery');

/**
 * Deliveries as their two parties see them, and the buyer's delivery keys. A delivery is visible
 * to its buyer and its provider only: to anyone else it does not exist (404).
 */
@Injectable()
export class DeliveriesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly markets: MarketsService,
    private readonly keys: DeliveryKeysService,
  ) {}

  async list(actor: Principal, query: DeliveryQuery): Promise<Page<DeliveryView>> {
    const limit = pageLimit(query);
    const before = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows: DeliveryRecord[] = await this.dataSource.query(
      `SELECT *, created_at::text AS cursor_at FROM deliveries
        WHERE (($2::text IS NULL OR $2 = 'buyer') AND buyer_id = $1 OR ($2::text IS NULL OR $2 = 'provider') AND provider_id = $1)
          AND ($3::text IS NULL OR status = $3)
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $6`,
      [actor.participantId, query.as ?? null, query.status ?? null, before?.[0] ?? null, before?.[1] ?? null, limit + 1],
    );
    const views = await Promise.all(rows.map((r) => this.view(actor, r)));
    return pageOf(
      rows.map((r, i) => ({ r, view: views[i] })),
      limit,
      ({ r }) => [r.cursor_at!, r.id],
      ({ view }) => view,
    );
  }

  async get(actor: Principal, id: string): Promise<DeliveryView> {
    return this.view(actor, await this.partyOf(actor, id));
  }

  /** A key for the buyer to present at the provider's node, valid until the window ends (or sooner). */
  async issueKey(actor: Principal, id: string, expiresInSeconds?: number): Promise<DeliveryKeyView> {
    const d = await this.partyOf(actor, id);
    if (d.buyer_id !== actor.participantId) throw NOT_FOUND(); // only its buyer may consume a delivery
    const now = Date.now();
    if (d.status !== 'open' || d.window_end.getTime() <= now) {
      throw unprocessable('DELIVERY_WINDOW_CLOSED', 'the delivery window has ended; no key can be issued for it');
    }
    const end = d.window_end.getTime();
    const expiresAt = new Date(expiresInSeconds === undefined ? end : Math.min(end, now + expiresInSeconds * 1000));
    const issued = await this.keys.issue({
      deliveryId: d.id,
      buyerId: d.buyer_id,
      providerId: d.provider_id,
      modelClassId: d.model_class_id,
      kind: 'buyer',
      expiresAt,
    });
    return { id: issued.id, token: issued.token, expiresAt: issued.expiresAt.toISOString() };
  }

  async listKeys(actor: Principal, id: string): Promise<DeliveryKeyInfo[]> {
    const d = await this.partyOf(actor, id);
    if (d.buyer_id !== actor.participantId) throw NOT_FOUND();
    return (await this.keys.keysOfDelivery(d.id))
      .filter((k) => k.kind === 'buyer')
      .map((k) => ({ id: k.id, expiresAt: k.expiresAt.toISOString(), revokedAt: k.revokedAt?.toISOString() ?? null, createdAt: k.createdAt.toISOString() }));
  }

  async revokeKey(actor: Principal, id: string, keyId: string): Promise<void> {
    const d = await this.partyOf(actor, id);
    if (d.buyer_id !== actor.participantId) throw NOT_FOUND();
    const keys = await this.keys.keysOfDelivery(d.id);
    if (!keys.some((k) => k.id === keyId && k.kind === 'buyer')) throw notFound('DELIVERY_KEY_NOT_FOUND', 'no such key for this delivery');
    await this.keys.revoke(keyId, d.id);
  }

  /** The delivery if the caller is its buyer or provider; otherwise it does not exist. */
  private async partyOf(actor: Principal, id: string): Promise<DeliveryRecord> {
    const [row]: DeliveryRecord[] = await this.dataSource.query(
      `SELECT *, created_at::text AS cursor_at FROM deliveries WHERE id = $1 AND (buyer_id = $2 OR provider_id = $2)`,
      [id, actor.participantId],
    );
    if (!row) throw NOT_FOUND();
    return row;
  }

  private async view(actor: Principal, r: DeliveryRecord): Promise<DeliveryView> {
    const figures = deliveryFigures(r, await this.markets.requireInstrument(r.instrument));
    const [ordered, paid, used] = [BigInt(r.quantity_tokens), BigInt(r.paid_tokens), BigInt(r.delivered_tokens)];
    // Tokens refunded to the buyer by a dispute have left the delivery for good.
    const gone = BigInt(r.disputed_tokens) + BigInt(r.refunded_tokens);
    return {
      ...figures,
      fillId: r.fill_id,
      role: r.buyer_id === actor.participantId ? 'buyer' : 'provider',
      remaining: r.status === 'open' ? Number(nonNegative(ordered - (used > paid ? used : paid) - gone)) : 0,
    };
  }

}

const nonNegative = (x: bigint) => (x < 0n ? 0n : x);
