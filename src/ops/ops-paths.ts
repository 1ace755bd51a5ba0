import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The console's Eta templates and its own assets: next to this file (the build copies them to dist/). */
export const OPS_VIEWS = join(here, 'views');
export const OPS_ASSETS = join(here, 'assets');

/**
 * Third-party browser scripts, served from node_modules as they were installed (no build step).
 * lightweight-charts' exports map hides dist/, so its folder is found through its package.json.
 */
export const VENDOR_ASSETS = [
  join(dirname(require.resolve('htmx.org/package.json')), 'dist'),
  join(dirname(require.resolve('lightweight-charts/package.json')), 'dist'),
];
