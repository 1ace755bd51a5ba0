import { expect, test } from '@playwright/test';
import { baseUrl, screenshot, seeded, signIn } from './console.js';

// Settlements and deliveries on the seeded market: the steps the fills and the verified usage
// made, a step's ledger transfers, and a delivery with its tokens and evidence.

test('settlement steps link to their delivery and ledger transfers; deliveries show tokens and evidence', async ({ page }) => {
  const { disputedDeliveryId } = seeded();
  await signIn(page);
  await page.goto(`${baseUrl()}/ops/settlements`);
  await expect(page.getByTestId('settlement-row').first()).toBeVisible();
  await screenshot(page, 'settlements');
  await page.getByTestId('settlement-link').first().click();
  await expect(page.getByTestId('settlement-status')).toHaveText('done');
  await expect(page.getByTestId('transfer-row').first()).toBeVisible();
  await screenshot(page, 'settlement');

  await page.goto(`${baseUrl()}/ops/deliveries`);
  await expect(page.getByTestId('delivery-row').first()).toBeVisible();
  await screenshot(page, 'deliveries');
  await page.goto(`${baseUrl()}/ops/deliveries/${disputedDeliveryId}`);
  await expect(page.getByTestId('tokens-ordered')).toContainText('1000000');
  await expect(page.getByTestId('evidence-verdict')).toBeVisible();
  await screenshot(page, 'delivery');
});
