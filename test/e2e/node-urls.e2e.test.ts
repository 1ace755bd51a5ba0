import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CounterScrapeJob } from '../../src/metering/counter-scrapes.js';
import { NodeAuditJob } from '../../src/metering/node-audits.js';
import { NodeProber } from '../../src/probes/node-prober.js';
import { bearer, createParticipant, startTestApp, type TestApp, type TestParticipant } from '../support/test-app.js';

/**
 * The worker is no proxy into the exchange's own network (issue 14, item 5): node URLs on
 * non-public addresses are refused at registration and never called, redirects are not followed,
 * and a node's answer is read only up to its cap.
 */
let open: TestApp; // NODE_URLS_ALLOW_PRIVATE=true, as the tests' nodes listen on 127.0.0.1
let strict: TestApp; // the production default
let modelClassId: string;
let provider: TestParticipant;
const servers: Server[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

const derOf = () => generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const nodeBody = (overrides: object = {}) => ({
  modelClassId,
  baseUrl: 'https://203.0.114.7/v1',
  metricsUrl: 'https://203.0.114.7/metrics',
  publicKey: derOf(),
  tokensPerSecond: 5000,
  ...overrides,
});

/** A node of `provider` (written directly: the open app would accept any URL), owing a delivery now. */
async function owingNode(baseUrl: string, metricsUrl: string) {
  const [node] = await open.dataSource.query(
    `INSERT INTO inference_nodes (provider_id, model_class_id, base_url, metrics_url, public_key, tokens_per_second)
     VALUES ($1, $2, $3, $4, $5, 100) RETURNING id`,
    [provider.id, modelClassId, baseUrl, metricsUrl, derOf()],
  );
  return { id: node.id as string, provider_id: provider.id, model_class_id: modelClassId, base_url: baseUrl, metrics_url: metricsUrl, tokenizer: 'llama3' };
}

beforeAll(async () => {
  Logger.overrideLogger(false); // the scrapes and audits warn about the nodes this file breaks on purpose
  [open, strict] = await Promise.all([startTestApp(), startTestApp({ NODE_URLS_ALLOW_PRIVATE: 'false' })]);
  modelClassId = `nu${randomUUID().slice(0, 8)}-70b`;
  await open.http
    .post('/v1/admin/model-classes')
    .set(bearer(open.adminKey))
    .send({ id: modelClassId, tokenizer: 'llama3', inputWeightBps: 2500, minTokensPerSecond: 20, maxTtftMs: 2000 })
    .expect(201);
  provider = await createParticipant(open, ['provider']);
  const buyer = await createParticipant(open, ['buyer']);
  // Audits and scrapes only look at nodes whose provider owes a delivery now.
  await open.dataSource.query(
    `INSERT INTO deliveries (fill_id, instrument, model_class_id, buyer_id, provider_id, quantity_tokens, price_ticks,
                             notional_micros, seller_fee_micros, bond_micros, window_start, window_end, status)
     VALUES ($1, $2, $3, $4, $5, 1000, 1000, 1000, 0, 100, now() - interval '1 minute', now() + interval '1 hour', 'open')`,
    [`fill-${randomUUID()}`, `${modelClassId.toUpperCase()}-SPOT`, modelClassId, buyer.id, provider.id],
  );
});
afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all([open?.close(), strict?.close()]);
});

describe('registration', () => {
  test.each([
    ['baseUrl', 'http://127.0.0.1:8000/v1', /baseUrl: 127\.0\.0\.1 is a loopback address/],
    ['metricsUrl', 'http://169.254.169.254/latest/meta-data', /metricsUrl: 169\.254\.169\.254 is a cloud metadata address/],
    ['metricsUrl', 'http://[::ffff:10.0.0.7]:8000/metrics', /metricsUrl: ::ffff:a00:7 is a private address/],
    ['baseUrl', 'http://[fd00::1]/v1', /baseUrl: fd00::1 is a private address/],
    ['baseUrl', 'http://100.64.1.1/v1', /shared \(CGNAT\)/],
    ['baseUrl', 'http://localhost:8000/v1', /baseUrl: localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/],
  ])('%s %s is refused with a 400 naming the field', async (field, url, message) => {
    const refused = await strict.http.post('/v1/nodes').set(bearer(provider.key)).send(nodeBody({ [field]: url })).expect(400);
    expect(refused.body).toMatchObject({ code: 'NODE_URL_NOT_ALLOWED', message: expect.stringMatching(message) });
  });

  test('a public address is accepted; changing it to a private one is refused; the setting allows it', async () => {
    const created = await strict.http.post('/v1/nodes').set(bearer(provider.key)).send(nodeBody()).expect(201);
    const patch = (app: TestApp) => app.http.patch(`/v1/nodes/${created.body.id}`).set(bearer(provider.key)).send({ metricsUrl: 'http://10.1.2.3/metrics' });
    expect((await patch(strict).expect(400)).body.message).toMatch(/^metricsUrl: 10\.1\.2\.3 is a private address/);
    await patch(open).expect(200);
  });
});

describe('the worker', () => {
  test('never calls a private address unless allowed: probes, scrapes and audits all refuse it', async () => {
    const node = await serve((_req, res) => res.end('vllm:prompt_tokens_total 1\nvllm:generation_tokens_total 1\n'));
    const spec = await owingNode(`${node.url}/v1`, `${node.url}/metrics`);
    const probes = await strict.app.get(NodeProber).probeDue();
    expect(probes.find((p) => p.nodeId === spec.id)).toMatchObject({ ok: false, statusCode: null, error: '127.0.0.1 is a loopback address, not called by the exchange' });
    await strict.app.get(CounterScrapeJob).handle();
    expect(await strict.app.get(NodeAuditJob).audit(spec)).toMatchObject({ ok: false });
    const [audit] = await open.dataSource.query(`SELECT ok, error FROM node_audits WHERE node_id = $1`, [spec.id]);
    expect(audit).toEqual({ ok: false, error: expect.stringMatching(/loopback address/) });
    expect(await open.dataSource.query(`SELECT 1 FROM node_counter_samples WHERE node_id = $1`, [spec.id])).toHaveLength(0);
    expect(node.hits).toEqual([]);
    // allowed: the same node is called
    expect((await open.app.get(NodeProber).probeDue()).find((p) => p.nodeId === spec.id)).toMatchObject({ ok: true, statusCode: 200 });
    expect(node.hits).toContain('GET /health');
    await open.dataSource.query(`UPDATE inference_nodes SET status = 'disabled' WHERE id = $1`, [spec.id]);
  });

  test('a redirect is a failed audit, probe and scrape, never followed', async () => {
    const elsewhere = await serve((_req, res) => res.end('{}'));
    const node = await serve((req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}${req.url}` });
      res.end();
    });
    const spec = await owingNode(`${node.url}/v1`, `${node.url}/metrics`);
    expect(await open.app.get(NodeAuditJob).audit(spec, { endpoint: 'completions', stream: false })).toMatchObject({ ok: false });
    const [audit] = await open.dataSource.query(`SELECT ok, error FROM node_audits WHERE node_id = $1`, [spec.id]);
    expect(audit).toEqual({ ok: false, error: 'node answered 307' });
    expect((await open.app.get(NodeProber).probeDue()).find((p) => p.nodeId === spec.id)).toMatchObject({ ok: false, statusCode: 307 });
    await open.app.get(CounterScrapeJob).handle();
    expect(await open.dataSource.query(`SELECT 1 FROM node_counter_samples WHERE node_id = $1`, [spec.id])).toHaveLength(0);
    expect(node.hits).toEqual(expect.arrayContaining(['POST /v1/completions', 'GET /health', 'GET /metrics']));
    expect(elsewhere.hits).toEqual([]);
    await open.dataSource.query(`UPDATE inference_nodes SET status = 'disabled' WHERE id = $1`, [spec.id]);
  });

  test('a huge metrics answer is cut at its cap: the node gets to send little of it and the worker does not grow', async () => {
    const HUGE = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, '# padding padding padding padding\n');
    let sent = 0;
    const node = await serve((req, res) => {
      if (req.url !== '/metrics') return res.end();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const pump = () => {
        while (sent < HUGE && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const spec = await owingNode(`${node.url}/v1`, `${node.url}/metrics`);
    const before = process.memoryUsage();
    await open.app.get(CounterScrapeJob).handle();
    const after = process.memoryUsage();
    expect(node.hits).toContain('GET /metrics');
    expect(sent).toBeLessThan(16 * 1024 * 1024); // the socket was closed soon after the first megabyte
    expect(after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers)).toBeLessThan(32 * 1024 * 1024);
    expect(await open.dataSource.query(`SELECT 1 FROM node_counter_samples WHERE node_id = $1`, [spec.id])).toHaveLength(0);
    await open.dataSource.query(`UPDATE inference_nodes SET status = 'disabled' WHERE id = $1`, [spec.id]);
  });
});
