import { ValidationPipe, type ValidationError } from '@nestjs/common';
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

/**
 * Unknown fields are refused (whitelist + forbidNonWhitelisted), values are converted to the DTO's
 * types, and every problem is reported in one 400 naming the fields.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const problems = describeValidationErrors(errors);
      const fields = [...new Set(errors.map((e) => e.property))];
      return invalid('VALIDATION_FAILED', problems.join('; ') || 'request body must be a JSON object', { fields });
    },
  });
}
