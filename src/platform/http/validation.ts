import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { invalid } from '../../common/domain-error.js';

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

/**
 * Unknown fields are refused (whitelist + forbidNonWhitelisted), values are converted to the DTO's
 * types, and the problems (the first 20) are reported in one 400 naming the fields.
 */
export function createValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const problems = describeValidationErrors(errors);
      const fields = [...new Set(errors.map((e) => e.property))];
      // A body of 10,000 unknown fields gets a short answer, not a 10,000-line one.
      const shown = problems.slice(0, MAX_REPORTED_PROBLEMS);
      if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
      return invalid('VALIDATION_FAILED', shown.join('; ') || 'request body must be a JSON object', { fields: fields.slice(0, MAX_REPORTED_PROBLEMS) });
    },
  });
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
 * Bodies are at most 32 levels deep by now (input-scan.ts), so the recursion is bounded.
 */
class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && value !== null && typeof value === 'object') {
      const path = firstNull(value);
      if (path !== undefined) throw invalid('VALIDATION_FAILED', `${path}: must not be null (leave the field out instead)`, { fields: [path.split(/[.[]/)[0]] });
    }
    return super.transform(value, metadata);
  }
}
