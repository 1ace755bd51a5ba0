import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../src/platform/config/app-config.js';
import { NodeProbeJob } from '../../src/probes/node-probe.job.js';
import { NodeProber } from '../../src/probes/node-prober.js';
import { openTestDataSource } from '../support/database.js';

/** A tiny stand-in for an inference server: answers `GET /health` with `status`, and remembers the paths asked. */
async function startNode(status: number): Promise<{ server: Server; baseUrl: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    res.statusCode = req.url === '/health' ? status : 404;
    res.end(status === 200 ? 'ok' : 'loading model');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, paths };
}

/** A URL nothing listens on: a port taken and released at once. */
async function deadBaseUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

const MODEL = `probe-${randomUUID().slice(0, 8)}`;
const OTHER_MODEL = `probe-other-${randomUUID().slice(0, 8)}`;
const HOUR = 3_600_000;

let dataSource: DataSource;
let prober: NodeProber;
let healthy: Awaited<ReturnType<typeof startNode>>;
let sick: Awaited<ReturnType<typeof startNode>>;
let buyer: string;
const providers: Record<string, string> = {};
const nodes: Record<string, string> = {};

async function participant(name: string, role: 'provider' | 'buyer'): Promise<string> {
  const [row] = await dataSource.query(`INSERT INTO participants (name, roles) VALUES ($1, $2) RETURNING id`, [name, [role]]);
  return row.id;
}

async function node(providerId: string, baseUrl: string, opts: { model?: string; status?: 'enabled' | 'disabled' } = {}): Promise<string> {
  const [row] = await dataSource.query(
    `INSERT INTO inference_nodes (provider_id, model_class_id, base_url, metrics_url, public_key, tokens_per_second, status)
     VALUES ($1, $2, $3, $4, $5, 100, $6) RETURNING id`,
    [providerId, opts.model ?? MODEL, baseUrl, `${new URL(baseUrl).origin}/metrics`, `test-key-${randomUUID()}`, opts.status ?? 'enabled'],
  );
  return row.id;
}

async function delivery(providerId: string, windowStart: Date, windowEnd: Date, status: 'open' | 'closed' = 'open'): Promise<void> {
  await dataSource.query(
    `INSERT INTO deliveries (fill_id, instrument, model_class_id, buyer_id, provider_id, quantity_tokens, price_ticks,
                             notional_micros, seller_fee_micros, bond_micros, window_start, window_end, status)
     VALUES ($1, $2, $3, $4, $5, 1000, 1000, 1000, 0, 100, $6, $7, $8)`,
    [`fill-${randomUUID()}`, `${MODEL.toUpperCase()}-SPOT`, MODEL, buyer, providerId, windowStart, windowEnd, status],
  );
}

const storedProbes = (nodeId: string) =>
  dataSource.query(`SELECT ok, status_code, latency_ms, error, provider_id, model_class_id FROM node_probes WHERE node_id = $1 ORDER BY id`, [
    nodeId,
  ]);

beforeAll(async () => {
  Logger.overrideLogger(false); // the job warns about the failing nodes this file sets up on purpose
  dataSource = await openTestDataSource(4);
  // A short interval, so a few rounds cover a window; a short timeout, so a hung node costs little.
  prober = new NodeProber(dataSource, loadConfig({ NODE_PROBE_INTERVAL_MS: '200', NODE_PROBE_TIMEOUT_MS: '1000', NODE_URLS_ALLOW_PRIVATE: 'true' }, 'worker'));
  [healthy, sick] = await Promise.all([startNode(200), startNode(503)]);
  const dead = await deadBaseUrl();

  for (const model of [MODEL, OTHER_MODEL]) {
    await dataSource.query(
      `INSERT INTO model_classes (id, tokenizer, input_weight_bps, min_tokens_per_second, max_ttft_ms) VALUES ($1, 'llama3', 2500, 10, 2000)`,
      [model],
    );
  }
  buyer = await participant('probe buyer', 'buyer');
  for (const name of ['healthy', 'sick', 'dead', 'future', 'closed', 'disabled']) providers[name] = await participant(`probe ${name}`, 'provider');

  const now = Date.now();
  const open = [new Date(now - HOUR), new Date(now + HOUR)] as const;
  nodes.healthy = await node(providers.healthy, healthy.baseUrl);
  nodes.healthyOtherModel = await node(providers.healthy, healthy.baseUrl, { model: OTHER_MODEL }); // no delivery of that model
  nodes.sick = await node(providers.sick, sick.baseUrl);
  nodes.dead = await node(providers.dead, dead);
  nodes.future = await node(providers.future, healthy.baseUrl);
  nodes.closed = await node(providers.closed, healthy.baseUrl);
  nodes.disabled = await node(providers.disabled, healthy.baseUrl, { status: 'disabled' });
  await delivery(providers.healthy, ...open);
  await delivery(providers.sick, ...open);
  await delivery(providers.dead, ...open);
  await delivery(providers.future, new Date(now + HOUR), new Date(now + 2 * HOUR));
  await delivery(providers.closed, ...open, 'closed');
  await delivery(providers.disabled, ...open);
});

afterAll(async () => {
  // Nothing should probe these servers once they are gone.
  await dataSource.query(`UPDATE deliveries SET status = 'closed' WHERE model_class_id = $1`, [MODEL]);
  await dataSource.destroy();
  await Promise.all([healthy, sick].map(({ server }) => new Promise((resolve) => server.close(resolve))));
});

describe('node health probes', () => {
  test('only enabled nodes with an open delivery window now are probed, at <origin>/health, and every result is stored', async () => {
    const results = await prober.probeDue();
    const mine = new Map(results.filter((r) => Object.values(nodes).includes(r.nodeId)).map((r) => [r.nodeId, r]));
    expect([...mine.keys()].sort()).toEqual([nodes.healthy, nodes.sick, nodes.dead].sort());

    expect(mine.get(nodes.healthy)).toMatchObject({ ok: true, statusCode: 200, error: null, providerId: providers.healthy, modelClassId: MODEL });
    expect(mine.get(nodes.sick)).toMatchObject({ ok: false, statusCode: 503, error: 'HTTP 503' });
    expect(mine.get(nodes.dead)).toMatchObject({ ok: false, statusCode: null, latencyMs: null });
    expect(mine.get(nodes.dead)!.error).toContain('ECONNREFUSED');
    expect(healthy.paths).toEqual(['GET /health']); // the origin's /health, not /v1/health
    expect(sick.paths).toEqual(['GET /health']);

    const [stored] = await storedProbes(nodes.healthy);
    expect(stored).toMatchObject({ ok: true, status_code: 200, error: null, provider_id: providers.healthy, model_class_id: MODEL });
    expect(stored.latency_ms).toBeGreaterThanOrEqual(0);
    expect(await storedProbes(nodes.sick)).toEqual([expect.objectContaining({ ok: false, status_code: 503, error: 'HTTP 503' })]);
    expect(await storedProbes(nodes.dead)).toEqual([expect.objectContaining({ ok: false, status_code: null, latency_ms: null })]);
    for (const name of ['future', 'closed', 'disabled', 'healthyOtherModel']) expect(await storedProbes(nodes[name])).toEqual([]);
  });

  test('the scheduled job probes inside the transaction the runner gives it', async () => {
    const before = (await storedProbes(nodes.healthy)).length;
    await dataSource.transaction((manager) => new NodeProbeJob(prober).handle({ reason: 'test' }, { jobId: 'test', attempt: 1, manager }));
    expect(await storedProbes(nodes.healthy)).toHaveLength(before + 1);
  });

  test('evidence: a provider whose only node failed its probes is in breach; a healthy one is not', async () => {
    const start = new Date();
    for (let round = 0; round < 4; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      await prober.probeDue();
    }
    const end = new Date(Date.now() + 1);

    const good = await prober.evidence(providers.healthy, MODEL, start, end);
    expect(good).toMatchObject({ failedProbes: 0, downMs: 0, windowMs: end.getTime() - start.getTime(), breach: false });
    expect(good.probes).toBeGreaterThanOrEqual(4);

    for (const provider of [providers.sick, providers.dead]) {
      const bad = await prober.evidence(provider, MODEL, start, end);
      expect(bad.probes).toBeGreaterThanOrEqual(4);
      expect(bad.failedProbes).toBe(bad.probes);
      expect(bad.downMs * 100).toBeGreaterThan(bad.windowMs);
      expect(bad.breach).toBe(true);
    }
    // another model class of the same provider has no evidence against it
    expect(await prober.evidence(providers.sick, OTHER_MODEL, start, end)).toMatchObject({ probes: 0, downMs: 0, breach: false });
  });

  test('evidence over a stored window: 1 % down is within the rule, 2 % is a breach', async () => {
    // A window of 1,000 s probed every 10 s, as production would with the default interval.
    const tenSeconds = new NodeProber(dataSource, loadConfig({ NODE_URLS_ALLOW_PRIVATE: 'true' }, 'worker'));
    const provider = await participant('probe stored', 'provider');
    const nodeId = await node(provider, healthy.baseUrl);
    const windowStart = Date.UTC(2030, 0, 1);
    const windowEnd = windowStart + 1_000_000;
    const plant = async (failing: number[]) => {
      await dataSource.query(`DELETE FROM node_probes WHERE node_id = $1`, [nodeId]);
      // the first probe is 5 s before the window: the evidence reads it to cover the window's start
      const times = Array.from({ length: 101 }, (_, k) => windowStart - 5_000 + 10_000 * k);
      await dataSource.query(
        `INSERT INTO node_probes (node_id, provider_id, model_class_id, probed_at, ok, status_code)
         SELECT $1, $2, $3, t, ok, CASE WHEN ok THEN 200 ELSE 503 END FROM unnest($4::timestamptz[], $5::boolean[]) AS p(t, ok)`,
        [nodeId, provider, MODEL, times.map((t) => new Date(t).toISOString()), times.map((_, k) => !failing.includes(k))],
      );
      return tenSeconds.evidence(provider, MODEL, new Date(windowStart), new Date(windowEnd));
    };
    expect(await plant([])).toEqual({ probes: 100, failedProbes: 0, downMs: 0, windowMs: 1_000_000, breach: false });
    expect(await plant([0])).toMatchObject({ downMs: 5_000, breach: false }); // the part before the window does not count
    expect(await plant([50])).toMatchObject({ failedProbes: 1, downMs: 10_000, breach: false });
    expect(await plant([50, 51])).toMatchObject({ failedProbes: 2, downMs: 20_000, breach: true });
  });
});
