import { describe, expect, test } from '@jest/globals';
import { deliveryPhase, inBreach, type PhaseFacts } from './delivery-phase.js';

const open = (over: Partial<PhaseFacts> = {}): PhaseFacts => ({ status: 'open', outcome: null, windowEnd: 1_000, disputedTokens: 0n, failedSteps: 0, ...over });
const GRACE = 100;

describe('deliveryPhase', () => {
  test('open until the window ends, with the close due after the grace', () => {
    expect(deliveryPhase(open(), 999, GRACE)).toEqual({ phase: 'open', waitingOn: null, closeDueAt: 1_100 });
  });

  test('closing from the window end: the grace, then the sweep', () => {
    expect(deliveryPhase(open(), 1_000, GRACE)).toEqual({ phase: 'closing', waitingOn: 'grace', closeDueAt: 1_100 });
    expect(deliveryPhase(open(), 1_100, GRACE).waitingOn).toBe('sweep');
  });

  test('a dispute, then a failed step, hold the close whatever the time', () => {
    expect(deliveryPhase(open({ disputedTokens: 5n }), 1_050, GRACE).waitingOn).toBe('dispute');
    expect(deliveryPhase(open({ disputedTokens: 5n, failedSteps: 1 }), 5_000, GRACE).waitingOn).toBe('failed_step');
  });

  test('closed is closed, whatever else', () => {
    expect(deliveryPhase(open({ status: 'closed', outcome: 'delivered', failedSteps: 1 }), 0, GRACE)).toEqual({ phase: 'closed', waitingOn: null, closeDueAt: null });
  });
});

describe('inBreach', () => {
  test('a closed delivery by its outcome; an unclosed one by the evidence now', () => {
    expect(inBreach({ status: 'closed', outcome: 'breach' }, false)).toBe(true);
    expect(inBreach({ status: 'closed', outcome: 'take_or_pay' }, true)).toBe(false);
    expect(inBreach({ status: 'open', outcome: null }, true)).toBe(true);
    expect(inBreach({ status: 'open', outcome: null }, false)).toBe(false);
  });
});
