import { describe, expect, test } from '@jest/globals';
import { securityHeaders } from './security-headers.js';

describe('security headers', () => {
  test("are helmet's, worked out once from the options", () => {
    const headers = securityHeaders({ contentSecurityPolicy: { directives: { defaultSrc: [`'self'`], upgradeInsecureRequests: null } } });
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN', 'strict-transport-security': expect.stringContaining('max-age=') });
    expect(Object.keys(headers).every((name) => name === name.toLowerCase())).toBe(true);
  });
});
