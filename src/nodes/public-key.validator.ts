import { registerDecorator, type ValidationArguments } from 'class-validator';
import { parseEd25519PublicKey } from './public-key.js';

/** An Ed25519 public key: base64 SPKI DER or PEM (the service stores the base64 SPKI DER). */
export function IsEd25519PublicKey(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isEd25519PublicKey',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseEd25519PublicKey(value).ok,
        defaultMessage: (args?: ValidationArguments) => {
          const parsed = typeof args?.value === 'string' ? parseEd25519PublicKey(args.value) : undefined;
          return `${args?.property} ${parsed && !parsed.ok ? parsed.reason : 'must be a string'}`;
        },
      },
    });
}
