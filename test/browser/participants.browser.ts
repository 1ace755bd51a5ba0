import { expect, test } from '@playwright/test';
import { baseUrl, screenshot, seeded, signIn } from './console.js';

// Participants and the audit log: suspending a provider cancels its resting orders and disables
// its nodes, and the reason is in the audit log.

test('suspending a participant cancels its open orders, and the audit log says who and why', async ({ page }) => {
  const { borealis, restingOrderIds } = seeded();
  await signIn(page);
  await page.goto(`${baseUrl()}/ops/participants`);
  await expect(page.getByTestId('participant-row').first()).toBeVisible();
  await screenshot(page, 'participants');
  await page.getByTestId('participant-row').filter({ hasText: borealis.name }).getByRole('link', { name: borealis.name }).click();
  await expect(page.getByTestId('participant-status')).toHaveText('active');
  await expect(page.getByTestId('open-order-row')).toHaveCount(restingOrderIds.length);
  await screenshot(page, 'participant');

  await page.locator('#suspend-reason').fill('browser test: node operator unreachable');
  await page.getByTestId('suspend-button').click();
  await expect(page.getByTestId('participant-status')).toHaveText('suspended');
  await expect(page.getByTestId('no-open-orders')).toBeVisible();
  await expect(page.getByTestId('closed-order-row').filter({ has: page.getByTestId('order-status').getByText('cancelled') })).toHaveCount(restingOrderIds.length);
  await expect(page.getByTestId('node-status').first()).toHaveText('disabled');

  await page.goto(`${baseUrl()}/ops/audit?action=participant.suspend`);
  const row = page.getByTestId('audit-row').first();
  await expect(row.getByTestId('audit-reason')).toContainText('node operator unreachable');
  await page.goto(`${baseUrl()}/ops/audit`);
  await screenshot(page, 'audit-log');
});
