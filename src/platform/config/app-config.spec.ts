import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ConfigurationError, defaultVariables, loadConfig } from './app-config.js';

describe('configuration', () => {
  test('defaults give a working development configuration', () => {
    const config = loadConfig({}, 'all');
    expect(config.http.port).toBe(3000);
    expect(config.database.migrate).toBe(false);
    expect(config.bootstrapAdminKey).toBeNull();
  });

  test('values are converted to their types', () => {
    const config = loadConfig({ PORT: '8080', DB_MIGRATE: 'true', RATE_LIMIT_PER_SECOND: '0' }, 'api');
    expect(config.http.port).toBe(8080);
    expect(config.database.migrate).toBe(true);
    expect(config.http.rateLimitPerSecond).toBe(0);
  });

  test('every bad variable is named', () => {
    const attempt = () => loadConfig({ PORT: 'eighty', DB_MIGRATE: 'maybe', DATABASE_URL: 'mysql://x', BOOTSTRAP_ADMIN_KEY: 'short' }, 'api');
    expect(attempt).toThrow(ConfigurationError);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'DB_MIGRATE', 'DATABASE_URL', 'BOOTSTRAP_ADMIN_KEY']) expect(message).toContain(name);
      expect(message).not.toContain('short'); // secrets are never echoed
    }
  });

  test('.env.example lists every variable with its default', () => {
    const example = Object.fromEntries(
      readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8')
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(example).toEqual(defaultVariables());
  });
});
