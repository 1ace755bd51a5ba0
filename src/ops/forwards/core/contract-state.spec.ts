import { describe, expect, test } from '@jest/globals';
import { contractState } from './contract-state.js';

describe('contractState', () => {
  const lastTradeAt = new Date('2027-01-10T00:00:00Z');
  const before = new Date('2027-01-09T23:59:59Z');

  test('before its last trade a contract trades, unless halted', () => {
    expect(contractState({ status: 'active', lastTradeAt, open: true }, before)).toBe('trading');
    expect(contractState({ status: 'halted', lastTradeAt, open: true }, before)).toBe('halted');
  });

  test('from its last trade it awaits expiry while anything is open, then it has expired (halted or not)', () => {
    expect(contractState({ status: 'active', lastTradeAt, open: true }, lastTradeAt)).toBe('awaiting expiry');
    expect(contractState({ status: 'halted', lastTradeAt, open: false }, lastTradeAt)).toBe('expired');
    expect(contractState({ status: 'active', lastTradeAt, open: false }, new Date('2027-02-01T00:00:00Z'))).toBe('expired');
  });
});
