/** The real servers the tests use (never mocks), and the bootstrap admin key; no Nest imports, so the browser tests can load it. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tokex_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const BOOTSTRAP_ADMIN_KEY = 'tkx_test_bootstrap_admin_key_0123456789abcdef';
