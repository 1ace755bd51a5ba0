import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { type DomainError, invalid } from '../../common/domain-error.js';

/** Flattens class-validator errors into "field: reason" strings, nested fields as dotted paths. */
export function describeValidationErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([constraint, reason]) =>
      constraint === 'whitelistValidation'
        ? `${path}: unknown field`
        : reason.startsWith(error.property)
          ? reason.replace(error.property, path)
          : `${path}: ${reason}`,
    );
    return [...own, ...describeValidationErrors(error.children ?? [], path)];
  });
}

export const MAX_REPORTED_PROBLEMS = 20;

const VALIDATOR_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
} as const;

/** One 400 naming the fields (under `at`, if given) and the first 20 problems. */
export function validationFailed(errors: ValidationError[], at?: string): DomainError {
  const problems = describeValidationErrors(errors, at);
  const fields = [...new Set(errors.map((e) => (at ? `${at}.${e.property}` : e.property)))];
  // A body of 10,000 unknown fields gets a short answer, not a 10,000-line one.
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS);
  if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
  return invalid('VALIDATION_FAILED', shown.join('; ') || `${at ?? 'request body'} must be a JSON object`, { fields: fields.slice(0, MAX_REPORTED_PROBLEMS) });
}

/**
 * Unknown fields are refused (whitelist + forbidNonWhitelisted), values are converted to the DTO's
 * types, and the problems (the first 20) are reported in one 400 naming the fields.
 */
export function createValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({ ...VALIDATOR_OPTIONS, transform: true, exceptionFactory: (errors) => validationFailed(errors) });
}

/**
 * Checks one item of input that is judged item by item (a batch's commands, a stream message)
 * as the pipe checks a body: nulls, unknown fields, each constraint, with the fields named under
 * `at` (`commands[3].price`). Returns the DTO, or throws the 400 to answer for this item alone.
 */
export async function validateItem<T extends object>(type: new () => T, value: unknown, at?: string): Promise<T> {
  const name = at ?? 'message';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('VALIDATION_FAILED', `${name} must be a JSON object`, { fields: [name] });
  const nullAt = firstNull(value);
  if (nullAt !== undefined) {
    const field = nullAt.split(/[.[]/)[0];
    throw invalid('VALIDATION_FAILED', `${at ? `${at}.${nullAt}` : nullAt}: must not be null (leave the field out instead)`, { fields: [at ? `${at}.${field}` : field] });
  }
  const instance = plainToInstance(type, value);
  const errors = await validate(instance, VALIDATOR_OPTIONS);
  if (errors.length > 0) throw validationFailed(errors, at);
  return instance;
}

/** The path of the first null in a request body, or undefined. */
export function firstNull(value: unknown, path = ''): string | undefined {
  if (value === null) return path;
  if (typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value as object)) {
    const found = firstNull(item, Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * No request DTO gives null a meaning, but `@IsOptional()` lets it through to services that test
 * for undefined (`"price": null` on an order's PATCH was a 500): a null field is refused here, once.
 * Bodies are at most 32 levels deep by now (input-scan.ts), so the recursion is bounded. A body
 * DTO with `static validatesItemByItem = true` leaves its items' nulls to `validateItem`.
 */
class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const itemByItem = (metadata.metatype as { validatesItemByItem?: boolean } | undefined)?.validatesItemByItem === true;
    if (metadata.type === 'body' && !itemByItem && value !== null && typeof value === 'object') {
      const path = firstNull(value);
      if (path !== undefined) throw invalid('VALIDATION_FAILED', `${path}: must not be null (leave the field out instead)`, { fields: [path.split(/[.[]/)[0]] });
    }
    return super.transform(value, metadata);
  }
}
