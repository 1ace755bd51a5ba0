import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/test-env.js';

/**
 * `npm run demo -- --duration 30 --exit`, as built (`dist/src/demo/main.js`; `npm test` builds
 * first), on a database of its own next to the test database (`<test db>_demo`, so it collides
 * neither with the other tests nor with a person's `tokex_demo`) and any free port. It must trade
 * both markets, deliver and pay tokens, catch the inflating node and only it, keep the ledger at
 * zero, exit 0, and leave none of the processes it started running.
 */
const DEMO = fileURLToPath(new URL('../../dist/src/demo/main.js', import.meta.url));

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run demo', () => {
  test('a 30 s unattended run: both markets trade, tokens are delivered and paid, the inflating node alone is disputed, the ledger balances, nothing is left running', async () => {
    const url = new URL(TEST_DATABASE_URL);
    const database = `${url.pathname.slice(1)}_demo`.slice(0, 63);
    url.pathname = '/postgres';
    const child = spawn(process.execPath, [DEMO, '--duration', '30', '--exit', '--port', '0', '--database', database], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: url.toString(), REDIS_URL: TEST_REDIS_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = await once(child, 'exit');

    const line = output.split('\n').find((l) => l.startsWith('DEMO_SUMMARY '));
    if (!line) throw new Error(`no DEMO_SUMMARY line; output:\n${output}`);
    const summary = JSON.parse(line.slice('DEMO_SUMMARY '.length));
    const { report, checks } = summary;
    const markets = Object.values(report.markets) as Array<{ kind: string; trades: number; volume: number }>;
    expect(markets.find((m) => m.kind === 'spot')!.trades).toBeGreaterThan(0);
    expect(markets.find((m) => m.kind === 'forward')!.trades).toBeGreaterThan(0);
    expect(report.deliveries.delivered).toBeGreaterThan(0);
    expect(report.deliveries.paid).toBeGreaterThan(0);
    expect(report.payouts.amount).not.toBe('0.000000');
    expect(Object.keys(report.disputes.byProvider)).toEqual(['Borealis Inference']); // the inflating node, and not Acme's
    expect(report.trialBalance).toEqual({ postedSum: '0.000000', pendingSum: '0.000000', balanced: true });
    expect(report.marks.length).toBeGreaterThan(0); // a daily mark on the fast demo clock
    expect(Object.values(checks).every(Boolean)).toBe(true);
    expect(summary.ok).toBe(true);
    expect(code).toBe(0);
    // The API, the worker and both node agents are gone.
    expect(summary.pids).toHaveLength(4);
    expect(summary.pids.filter(isRunning)).toEqual([]);
    expect(isRunning(child.pid!)).toBe(false);
  }, 150_000);
});
