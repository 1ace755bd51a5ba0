import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDeliveriesSql, insertDeliveriesSql, type NewDeliveryFill } from '../../src/deliveries/delivery-sql.js';
import type { SpotTerms } from '../../src/markets/instrument-terms.js';
import { runScript } from '../../src/platform/database/sql-script.js';
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

function fills(prefix: string): NewDeliveryFill[] {
  const buyer = randomUUID();
  const seller = randomUUID();
  return [1, 2, 3].map((i) => ({
    id: `${prefix}-${i}`,
    buyerId: i === 3 ? randomUUID() : buyer,
    sellerId: seller,
    lots: 100 * i,
    priceTicks: 500 + i,
    notional: 50_000n * BigInt(i),
    buyerFee: i === 2 ? 0n : 50n * BigInt(i), // a fill without a buyer fee has no fee transfer
    sellerFee: 5n * BigInt(i),
    bond: 5_000n * BigInt(i),
    createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)),
  }));
}

/** What a batch wrote, without the generated ids and clocks, keyed by its fills' position. */
async function written(prefix: string) {
  const deliveries = await dataSource.query(
    `SELECT replace(fill_id, $1, '') AS fill, instrument, model_class_id, buyer_id, provider_id, quantity_tokens::text, price_ticks::text, notional_micros::text,
            seller_fee_micros::text, bond_micros::text, window_start, window_end, delivered_tokens::text, paid_tokens::text, disputed_tokens::text, status, outcome
       FROM deliveries WHERE fill_id LIKE $1 || '-%' ORDER BY fill_id`,
    [prefix],
  );
  const settlements = await dataSource.query(
    `SELECT replace(s.key, $1, '') AS key, s.kind, d.fill_id = replace(s.key, 'escrow:', '') AS own_delivery, s.buyer_id, s.provider_id, s.tokens::text,
            s.amounts, array_to_string(ARRAY(SELECT replace(t, $1, '') FROM unnest(s.transfer_ids) t), ' ') AS transfers, s.status
       FROM settlements s JOIN deliveries d ON d.id = s.delivery_id WHERE s.key LIKE 'escrow:' || $1 || '-%' ORDER BY s.key`,
    [prefix],
  );
  return { deliveries: deliveries.map((d: { instrument: string }) => ({ ...d, instrument: d.instrument.replace(prefix, '') })), settlements };
}

test('the deliveries insert and the escrow records, run as one script, write what the combined statement wrote', async () => {
  const old = `OLD${Date.now()}`;
  const split = `NEW${Date.now()}`;
  const oldFills = fills(old);
  const newFills = oldFills.map((f) => ({ ...f, id: f.id.replace(old, split) }));
  await runScript(dataSource, createDeliveriesSql(terms(old), oldFills)!);
  await runScript(dataSource, `BEGIN; ${insertDeliveriesSql(terms(split), newFills)}; ${recordEscrowSql(newFills)}; COMMIT;`);

  const before = await written(old);
  const after = await written(split);
  expect(before.deliveries).toHaveLength(3);
  expect(before.settlements).toHaveLength(3);
  expect(after).toEqual(before);
  expect(after.settlements[1]).toMatchObject({ own_delivery: true, transfers: 'fill:-2:escrow', amounts: { escrow: '100000', buyerFee: '0' } });
});

test('no fills, no statements', () => {
  expect(insertDeliveriesSql(terms('X'), [])).toBeUndefined();
  expect(recordEscrowSql([])).toBeUndefined();
});
