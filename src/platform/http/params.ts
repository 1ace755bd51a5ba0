import { Param, ParseUUIDPipe } from '@nestjs/common';
import { invalid } from '../../common/domain-error.js';

/** A UUID path parameter; anything else is a 400 naming the parameter. */
export const uuidParam = (name: string) =>
  Param(name, new ParseUUIDPipe({ exceptionFactory: () => invalid('VALIDATION_FAILED', `${name} must be a UUID`, { fields: [name] }) }));
