import { expect, test } from '@playwright/test';
import { baseUrl, screenshot, seeded, signIn } from './console.js';

// The forwards pages on the seeded week: the contract, its holders' positions and margin.

test('the forwards page lists the contract; its page shows each holder\'s position and margin', async ({ page }) => {
  const { forward, acme, cobalt } = seeded();
  await signIn(page);
  await page.goto(`${baseUrl()}/ops/forwards`);
  const row = page.locator(`[data-testid="contract-row"][data-symbol="${forward}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId('contract-open-interest')).toContainText('7000000');
  await screenshot(page, 'forwards');
  await row.getByTestId('contract-link').click();
  await expect(page.getByTestId('contract-symbol')).toHaveText(forward);
  await expect(page.locator(`[data-testid="position-row"][data-participant="${cobalt.id}"]`)).toBeVisible();
  await expect(page.locator(`[data-testid="position-row"][data-participant="${acme.id}"]`)).toBeVisible();
  await screenshot(page, 'forward-contract');
  await page.goto(`${baseUrl()}/ops/forwards/margin-calls?status=all`);
  await screenshot(page, 'forward-margin-calls');
});
