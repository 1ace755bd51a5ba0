import { expect, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { BOOTSTRAP_ADMIN_KEY } from '../support/test-env.js';
import type { SeededMarket } from './seed.js';

/** Where the global setup started the service, and what it seeded. */
export const baseUrl = (): string => process.env.OPS_BASE_URL!;
export const seeded = (): SeededMarket => JSON.parse(process.env.OPS_SEED!) as SeededMarket;
export const adminKey = BOOTSTRAP_ADMIN_KEY;

/** Signs in on the form, as a person would. */
export async function signIn(page: Page, key = adminKey): Promise<void> {
  await page.goto(`${baseUrl()}/ops/sign-in`);
  await page.getByLabel('Admin API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const SCREENSHOTS = fileURLToPath(new URL('../../docs/ops-console/', import.meta.url));

/** A full-page screenshot for the docs (docs/ops-console/<name>.png). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

/** True when a canvas inside `selector` has any pixel that is not the background. */
export async function chartDrawn(page: Page, selector: string): Promise<boolean> {
  await expect(page.locator(`${selector} canvas`).first()).toBeVisible();
  return page.locator(selector).evaluate((root: any) => {
    for (const canvas of Array.from(root.querySelectorAll('canvas')) as any[]) {
      const { width, height } = canvas;
      if (width === 0 || height === 0) continue;
      const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
      for (let i = 0; i < pixels.length; i += 4) {
        const [r, g, b, a] = [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]];
        if (a > 0 && (r < 240 || g < 240 || b < 240)) return true;
      }
    }
    return false;
  });
}
