import { describe, expect, test } from '@jest/globals';
import { transferFlagNames, transferPhase } from './transfer-flags.js';
import { TransferFlags } from './types.js';

describe('transfer flags for people', () => {
  test('each flag by name, in a fixed order; none is an empty list', () => {
    expect(transferFlagNames(TransferFlags.None)).toEqual([]);
    expect(transferFlagNames(TransferFlags.Pending | TransferFlags.Linked)).toEqual(['linked', 'pending']);
    expect(transferFlagNames(TransferFlags.PostPending)).toEqual(['post_pending']);
    expect(transferFlagNames(TransferFlags.VoidPending | TransferFlags.Linked)).toEqual(['linked', 'void_pending']);
  });

  test('an unknown bit is shown by its value, not dropped', () => {
    expect(transferFlagNames(TransferFlags.Linked | 64)).toEqual(['linked', '0x40']);
  });

  test('the phase: a hold is pending, a void released one, a post or a plain transfer moved money', () => {
    expect(transferPhase(TransferFlags.Pending)).toBe('pending');
    expect(transferPhase(TransferFlags.VoidPending)).toBe('voided');
    expect(transferPhase(TransferFlags.PostPending)).toBe('posted');
    expect(transferPhase(TransferFlags.Linked)).toBe('posted');
  });
});
