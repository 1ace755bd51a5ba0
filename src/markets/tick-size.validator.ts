import { registerDecorator, type ValidationArguments } from 'class-validator';
import { parseTickSize } from './price.js';

/** A tick size as a decimal string of USD per million tokens ("0.001"); never a JSON number. */
export function IsTickSize(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isTickSize',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseTickSize(value).ok,
        defaultMessage: (args?: ValidationArguments) => {
          const value = args?.value;
          if (typeof value !== 'string') return `${args?.property} must be a decimal string of USD per million tokens, e.g. "0.001"`;
          const parsed = parseTickSize(value);
          return parsed.ok ? `${args?.property} is invalid` : `${args?.property} ${parsed.reason}`;
        },
      },
    });
}
