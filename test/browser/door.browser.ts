import { expect, test } from '@playwright/test';
import { baseUrl, chartDrawn, screenshot, seeded, signIn } from './console.js';

// The console's door and its first page, in Chromium: signing in and out, a key that is not an
// admin's, CSRF, and the overview's charts.

test('an admin signs in with the key on a form and lands on the overview, whose charts draw', async ({ page }) => {
  await page.goto(`${baseUrl()}/ops`);
  await expect(page).toHaveURL(/\/ops\/sign-in$/);
  await screenshot(page, 'sign-in');
  await signIn(page);
  await expect(page).toHaveURL(/\/ops$/);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('markets')).toContainText(seeded().spot);
  await expect(page.getByTestId('trial-balance')).toHaveText('0.000000');
  expect(await chartDrawn(page, '#candle-chart')).toBe(true);
  expect(await chartDrawn(page, '#index-chart')).toBe(true);
  await screenshot(page, 'overview');
});

test('a key that is not an admin\'s is refused, and no page opens', async ({ page }) => {
  await signIn(page, seeded().cobalt.key);
  await expect(page.getByRole('alert')).toContainText('for admins');
  await page.goto(`${baseUrl()}/ops`);
  await expect(page).toHaveURL(/\/ops\/sign-in$/);
});

test('a form posted without its CSRF token is refused', async ({ page }) => {
  await signIn(page);
  const answer = await page.request.post(`${baseUrl()}/ops/sign-out`, { form: { note: 'no token' }, maxRedirects: 0 });
  expect(answer.status()).toBe(403);
  await page.goto(`${baseUrl()}/ops`);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
});

test('signing out ends the session', async ({ page }) => {
  await signIn(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/ops\/sign-in$/);
  await page.goto(`${baseUrl()}/ops`);
  await expect(page).toHaveURL(/\/ops\/sign-in$/);
});

test('a failed job is retried from the queue board', async ({ page }) => {
  await signIn(page);
  await page.goto(`${baseUrl()}/ops/queues/queue/metering?status=failed`);
  const job = page.getByText('seeded-broken-batch').first();
  await expect(job).toBeVisible();
  await screenshot(page, 'queues');
  await page.getByRole('button', { name: /retry all/i }).click();
  await page.getByRole('button', { name: 'Confirm' }).click();
  // It runs again (and fails again: its node id is still not a UUID): two attempts now.
  await expect(async () => {
    const answer = await page.request.get(`${baseUrl()}/ops/queues/api/queues?activeQueue=metering&status=failed`);
    const queue = (await answer.json()).queues.find((q: { name: string }) => q.name === 'metering');
    const retried = queue.jobs.find((j: { id: string }) => j.id === 'seeded-broken-batch');
    expect(retried?.attempts ?? retried?.attemptsMade).toBe(2);
  }).toPass({ timeout: 15_000 });
});
