import { registerDecorator, type ValidationArguments } from 'class-validator';
import { parseUsd } from '../../common/money.js';

/** A positive USD amount as a decimal string ("12.500000"); never a JSON number, never a float. */
export function IsUsdAmount(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isUsdAmount',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && (() => {
          const parsed = parseUsd(value);
          return parsed.ok && parsed.micros > 0n;
        })(),
        defaultMessage: (args?: ValidationArguments) => {
          const value = args?.value;
          if (typeof value !== 'string') return `${args?.property} must be a decimal string of USD, e.g. "12.500000"`;
          const parsed = parseUsd(value);
          return parsed.ok ? `${args?.property} must be more than zero` : `${args?.property} ${parsed.reason}`;
        },
      },
    });
}
