import { expect, type Page, test } from '@playwright/test';
import { baseUrl, screenshot, seeded, signIn } from './console.js';

// The seeded dispute: Acme's node reported 150 completion tokens for a request where Cobalt saw
// 100. The admin reads the evidence side by side, resolves it for the buyer with a reason, and
// sees both participants' balances change.

const balancesOf = async (page: Page, participantId: string) => {
  await page.goto(`${baseUrl()}/ops/participants/${participantId}`);
  const read = (kind: string) => page.getByTestId(`balance-${kind}`).first().innerText();
  return { available: await read('available'), escrow: await read('escrow'), bond: await read('bond') };
};

test('a disputed delivery is resolved for the buyer, and the provider\'s and the buyer\'s balances change', async ({ page }) => {
  const { acme, cobalt, disputedDeliveryId } = seeded();
  await signIn(page);
  const before = { provider: await balancesOf(page, acme.id), buyer: await balancesOf(page, cobalt.id) };

  await page.getByRole('link', { name: 'Disputes' }).click();
  const row = page.locator(`[data-testid="dispute-row"][data-delivery-id="${disputedDeliveryId}"]`);
  await expect(row).toBeVisible();
  await screenshot(page, 'disputes');
  await row.getByTestId('open-dispute').click();
  await expect(page.getByTestId('side-by-side')).toContainText('150');
  await expect(page.getByTestId('side-by-side')).toContainText('100');
  await screenshot(page, 'dispute');

  await page.getByTestId('resolution-buyer').check();
  await page.getByTestId('resolve-reason').fill('browser test: the node reported 50 completion tokens the buyer never received');
  await page.getByTestId('resolve-submit').click();
  await expect(page.getByTestId('dispute-status')).toHaveText('resolved');

  // The 50 tokens at the top of 1,000,000 sold at 0.480 (escrow 480,000 µUSD, seller fee 480):
  // their provider part 479,520 − floor(479,520 × 0.99995) = 24 and fee part 480 − floor(480 ×
  // 0.99995) = 1 go back to the buyer, 25 µUSD, with a penalty of ⌈10 % of 25⌉ = 3 from the bond.
  const after = { provider: await balancesOf(page, acme.id), buyer: await balancesOf(page, cobalt.id) };
  expect(micros(after.buyer.escrow) - micros(before.buyer.escrow)).toBe(-25n);
  expect(micros(after.buyer.available) - micros(before.buyer.available)).toBe(28n);
  expect(micros(after.provider.bond) - micros(before.provider.bond)).toBe(-3n);
});

/** A balance as the page shows it ("997.591500") in micro-USD, exactly. */
const micros = (usd: string): bigint => BigInt(usd.trim().replace('.', ''));

test('the ledger shows a participant\'s accounts and transfers, and any transfer by id', async ({ page }) => {
  const { cobalt } = seeded();
  await signIn(page);
  await page.goto(`${baseUrl()}/ops/ledger?participant=${cobalt.id}`);
  await expect(page.getByTestId('ledger-balances')).toBeVisible();
  const first = page.getByTestId('transfer-row').first();
  await expect(first).toBeVisible();
  await screenshot(page, 'ledger');
  const id = await first.getAttribute('data-id');
  await page.goto(`${baseUrl()}/ops/ledger/transfers/${encodeURIComponent(id!)}`);
  await expect(page.getByTestId('transfer-id')).toHaveText(id!);
  await screenshot(page, 'ledger-transfer');
});
