import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { LedgerService } from '../../src/ledger/ledger.service.js';
import { fundedBuyer, fundedProvider, listSpotInstrument } from '../support/market-fixtures.js';
import { bearer, startTestApp, TEST_DATABASE_URL, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait-for.js';

/** The fee account in 16 shards (migrations/1797000000100, docs/ledger.md "The fee account's shards"). */
let t: TestApp;
let ledger: LedgerService;

beforeAll(async () => {
  t = await startTestApp();
  ledger = t.app.get(LedgerService);
});
afterAll(async () => {
  await t.close();
});

const shardOf = async (accountId: bigint | string): Promise<number> =>
  (await t.dataSource.query(`SELECT shard FROM accounts WHERE id = $1 AND kind = 'fees' AND participant_id IS NULL`, [String(accountId)]))[0]?.shard;

describe('the fee account shards', () => {
  test('there are 16, none can be overdrawn, and every other system account has one row', async () => {
    const rows = await t.dataSource.query(`SELECT kind, shard, flags FROM accounts WHERE participant_id IS NULL ORDER BY kind, shard`);
    expect(rows.filter((r: { kind: string }) => r.kind === 'fees')).toEqual(Array.from({ length: 16 }, (_, shard) => ({ kind: 'fees', shard, flags: 1 })));
    expect(rows.filter((r: { kind: string }) => r.kind !== 'fees').map((r: { kind: string; shard: number }) => [r.kind, r.shard])).toEqual([
      ['clearing', 0],
      ['external', 0],
      ['insurance', 0],
    ]);
  });

  test('only the fee account has shards, and each shard exists once', async () => {
    await expect(t.dataSource.query(`INSERT INTO accounts (participant_id, kind, flags, shard) VALUES (NULL, 'insurance', 1, 1)`)).rejects.toThrow(/accounts_shard_of_fees/);
    await expect(t.dataSource.query(`INSERT INTO accounts (participant_id, kind, flags, shard) VALUES (NULL, 'fees', 1, 3)`)).rejects.toThrow(/accounts_system_kind_key/);
  });

  test('a key always picks the same shard, a number picks that shard, and keys spread over all of them', async () => {
    expect(await ledger.feeAccount('SPOT-A')).toBe(await ledger.feeAccount('SPOT-A'));
    expect(await shardOf(await ledger.feeAccount(5))).toBe(5);
    expect(await shardOf(await ledger.feeAccount(16 + 5))).toBe(5);
    expect(await ledger.feeAccount(0)).toBe(await ledger.systemAccount('fees'));
    const used = new Set<number>();
    for (let i = 0; i < 200; i++) used.add(await shardOf(await ledger.feeAccount(`instrument-${i}`)));
    expect(used.size).toBe(16);
  });

  test("a book's fill fees go to its symbol's shard, and the exchange's fees are the shards' sum", async () => {
    const { symbol, modelClassId } = await listSpotInstrument(t, 'fsh', { spotWindowSeconds: 60 });
    const buyer = await fundedBuyer(t, '100');
    const provider = await fundedProvider(t, modelClassId, { cash: '100' });
    const before = await t.dataSource.query(`SELECT sum(credits_posted)::text AS fees FROM accounts WHERE kind = 'fees' AND participant_id IS NULL`);
    await t.http.post('/v1/orders').set(bearer(provider.key)).send({ instrument: symbol, side: 'sell', type: 'limit', price: '1.000', quantity: 1_000_000 }).expect(201);
    const bought = await t.http.post('/v1/orders').set(bearer(buyer.key)).send({ instrument: symbol, side: 'buy', type: 'limit', price: '1.000', quantity: 1_000_000 }).expect(201);
    const [fill] = bought.body.fills;
    expect(fill).toMatchObject({ liquidity: 'taker', fee: '0.001000' }); // the taker's 10 bps of 1.000000
    const [transfer] = await t.dataSource.query(`SELECT credit_account_id::text AS credit, amount::text FROM transfers WHERE id = $1`, [`fill:${fill.id}:buyer-fee`]);
    expect(transfer).toEqual({ credit: String(await ledger.feeAccount(symbol)), amount: '1000' });
    const after = await t.dataSource.query(`SELECT sum(credits_posted)::text AS fees FROM accounts WHERE kind = 'fees' AND participant_id IS NULL`);
    expect(BigInt(after[0].fees) - BigInt(before[0].fees)).toBe(1000n);
  });

  test('a write takes its fee shard before its other accounts, so writes that share a shard queue on it holding nothing else', async () => {
    // `external` is older than every shard but 0 (the first migration made it), so in plain id order
    // the write would wait for it before taking the shard.
    const external = await ledger.systemAccount('external');
    const shard = await ledger.feeAccount(7);
    expect(external < shard).toBe(true);
    const outside = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await outside.connect();
    try {
      await outside.query('BEGIN');
      await outside.query(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, [String(external)]); // held from outside
      const write = t.dataSource.transaction((manager) =>
        ledger.transferOrThrow(manager, [{ id: `shard-order:${randomUUID()}`, debitAccountId: external, creditAccountId: shard, amount: 1n, code: 'fill-fee', ref: 'test' }]),
      );
      // The write waits for the held account, and holds the shard meanwhile.
      await waitFor('the write to wait for the held account', async () => {
        const [{ n }] = await t.dataSource.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR NO KEY UPDATE%'`);
        return n > 0 ? true : undefined;
      });
      await expect(t.dataSource.query(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE NOWAIT`, [String(shard)])).rejects.toThrow(/could not obtain lock/);
      await outside.query('COMMIT');
      await write;
    } finally {
      await outside.end();
    }
  });
});
