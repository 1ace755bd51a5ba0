import { describe, expect, test } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { clientOrderKey, type CommandResult, type PlaceCommand } from './book-commands.js';
import { KeyedPlaces } from './keyed-places.js';

const command = (key: string | undefined, requestHash = 'h1'): PlaceCommand => ({
  kind: 'place',
  participantId: 'p1',
  side: 'buy',
  type: 'limit',
  timeInForce: 'GTC',
  priceTicks: 450,
  lots: 1,
  postOnly: false,
  stp: 'cancel_taker',
  ...(key !== undefined ? { idempotency: { key, requestHash } } : {}),
});
const placed: CommandResult = { closed: [], fills: [] };

describe('KeyedPlaces', () => {
  test('a committed key answers as stored, runs nothing; another request under it is a 409', () => {
    const keyed = new KeyedPlaces(new Map([[clientOrderKey('p1', 'k'), { requestHash: 'h1', statusCode: 201, body: { id: '7' } }]]));
    const run = () => {
      throw new Error('must not run');
    };
    expect(keyed.place(command('k'), 0, run)).toEqual({ closed: [], fills: [], answer: { statusCode: 201, body: { id: '7' }, replayed: true } });
    expect(() => keyed.place(command('k', 'h2'), 1, run)).toThrow(DomainError);
  });

  test('a key placed earlier in the batch points at that command; a refused one leaves no key', () => {
    const keyed = new KeyedPlaces();
    expect(() =>
      keyed.place(command('k'), 0, () => {
        throw new DomainError('INSUFFICIENT_FUNDS', 'no', 'unprocessable');
      }),
    ).toThrow(DomainError);
    expect(keyed.place(command('k'), 1, () => placed)).toBe(placed);
    expect(keyed.place(command('k'), 2, () => placed)).toEqual({ closed: [], fills: [], sameAs: 1 });
    expect(() => keyed.place(command('k', 'h2'), 3, () => placed)).toThrow(DomainError);
    expect(keyed.place(command(undefined), 4, () => placed)).toBe(placed);
  });
});
