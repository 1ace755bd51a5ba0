import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { insertDeliveriesSql, type NewDeliveryFill } from '../../src/deliveries/delivery-sql.js';
import type { SpotTerms } from '../../src/markets/instrument-terms.js';
import { recordEscrowSql } from '../../src/settlement/settlement-sql.js';
import { openTestDataSource } from '../support/database.js';

let dataSource: DataSource;
beforeAll(async () => {
  dataSource = await openTestDataSource(2);
});
afterAll(async () => {
  await dataSource.destroy();
});

const terms = (symbol: string): SpotTerms => ({
  kind: 'spot',
  symbol,
  modelClassId: 'escrow-sql-test',
  tickMicroUsdPerMTok: 1000,
  lotTokens: 1000,
  makerFeeBps: 0,
  takerFeeBps: 10,
  collarBps: 1000,
  spotWindowSeconds: 3600,
  bondBps: 1000,
});

/**
 * The order commit's two statements for a batch's spot fills, sent as one multi-statement query
 * the way it sends them: the deliveries (deliveries' statement), then their escrow records
 * (settlement's), which find each delivery by its fill. (Checked, when it was written, to write
 * exactly what the single statement they replace wrote.) Rolled back at the end: other suites in
 * the run close every due delivery, and these have no ledger accounts.
 */
test('a batch of fills becomes deliveries and their escrow settlement records, in one script', async () => {
  const runner = dataSource.createQueryRunner();
  await runner.startTransaction();
  try {
    await batchOfFills(runner.manager);
  } finally {
    await runner.rollbackTransaction();
    await runner.release();
  }
});

async function batchOfFills(manager: EntityManager): Promise<void> {
  const symbol = `ESC${Date.now()}`;
  const buyer = randomUUID();
  const seller = randomUUID();
  const fills: NewDeliveryFill[] = [1, 2, 3].map((i) => ({
    id: `${symbol}-${i}`,
    buyerId: buyer,
    sellerId: seller,
    lots: 100 * i,
    priceTicks: 500 + i,
    notional: 50_000n * BigInt(i),
    buyerFee: i === 2 ? 0n : 50n * BigInt(i), // no buyer fee, no fee transfer
    sellerFee: 5n * BigInt(i),
    bond: 5_000n * BigInt(i),
    createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)),
  }));
  // No bound parameters: the simple query protocol, several statements in one round trip.
  await manager.query(`${insertDeliveriesSql(terms(symbol), fills)}; ${recordEscrowSql(fills)}`);

  const deliveries = await manager.query(
    `SELECT id, fill_id, instrument, model_class_id, buyer_id, provider_id, quantity_tokens::text, price_ticks::text, notional_micros::text,
            seller_fee_micros::text, bond_micros::text, window_start, window_end, delivered_tokens::text, paid_tokens::text, status
       FROM deliveries WHERE instrument = $1 ORDER BY fill_id`,
    [symbol],
  );
  expect(deliveries).toEqual(
    fills.map((f, i) => ({
      id: expect.any(String),
      fill_id: f.id,
      instrument: symbol,
      model_class_id: 'escrow-sql-test',
      buyer_id: buyer,
      provider_id: seller,
      quantity_tokens: String(100_000 * (i + 1)),
      price_ticks: String(501 + i),
      notional_micros: String(f.notional),
      seller_fee_micros: String(f.sellerFee),
      bond_micros: String(f.bond),
      window_start: f.createdAt,
      window_end: new Date(f.createdAt.getTime() + 3_600_000),
      delivered_tokens: '0',
      paid_tokens: '0',
      status: 'open',
    })),
  );
  const settlements = await manager.query(
    `SELECT key, kind, delivery_id, buyer_id, provider_id, tokens::text, amounts, transfer_ids, status
       FROM settlements WHERE key LIKE 'escrow:' || $1 || '-%' ORDER BY key`,
    [symbol],
  );
  expect(settlements).toEqual(
    fills.map((f, i) => ({
      key: `escrow:${f.id}`,
      kind: 'escrow',
      delivery_id: deliveries[i].id,
      buyer_id: buyer,
      provider_id: seller,
      tokens: deliveries[i].quantity_tokens,
      amounts: { escrow: String(f.notional), buyerFee: String(f.buyerFee) },
      transfer_ids: f.buyerFee > 0n ? [`fill:${f.id}:escrow`, `fill:${f.id}:buyer-fee`] : [`fill:${f.id}:escrow`],
      status: 'done',
    })),
  );
}

test('no fills, no statements', () => {
  expect(insertDeliveriesSql(terms('X'), [])).toBeUndefined();
  expect(recordEscrowSql([])).toBeUndefined();
});
