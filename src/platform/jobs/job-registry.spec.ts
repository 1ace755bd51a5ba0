import { describe, expect, test } from '@jest/globals';
import { JOB_NAMES, jobIdOf } from './job-definitions.js';
import { validateHandlers } from './job-registry.js';

const oneEach = JOB_NAMES.map((name) => ({ name, className: `${name}Handler` }));

describe('job registry', () => {
  test('accepts exactly one handler per job', () => {
    expect(() => validateHandlers(oneEach)).not.toThrow();
  });

  test('refuses a job with no handler', () => {
    expect(() => validateHandlers(oneEach.slice(1))).toThrow(`job "${JOB_NAMES[0]}" has no handler`);
  });

  test('refuses a job with two handlers, naming both', () => {
    expect(() => validateHandlers([...oneEach, { name: JOB_NAMES[0], className: 'Other' }])).toThrow(
      `job "${JOB_NAMES[0]}" has 2 handlers: ${JOB_NAMES[0]}Handler, Other`,
    );
  });

  test('refuses a handler for a job that is not registered', () => {
    expect(() => validateHandlers([...oneEach, { name: 'nope', className: 'Stray' }])).toThrow('Stray handles "nope"');
  });

  test('job ids are deterministic and free of the colon BullMQ refuses', () => {
    expect(jobIdOf('ledger.audit', 'a:b')).toBe(jobIdOf('ledger.audit', 'a:b'));
    expect(jobIdOf('ledger.audit', 'a:b')).not.toContain(':');
    expect(jobIdOf('ledger.audit', 'a:b')).not.toBe(jobIdOf('ledger.audit', 'a%3Ab'));
  });
});
