import { Param, type PipeTransform } from '@nestjs/common';
import { invalid } from '../common/domain-error.js';
import { MODEL_CLASS_ID_PATTERN, MODEL_CLASS_ID_RULE, SYMBOL_PATTERN } from './instrument-terms.js';

/** A path parameter that must match `pattern`; anything else is a 400 naming the parameter. */
const patternParam = (name: string, pattern: RegExp, rule: string) => {
  const pipe: PipeTransform<string, string> = {
    transform: (value) => {
      if (!pattern.test(value)) throw invalid('VALIDATION_FAILED', `${name} must be ${rule}`, { fields: [name] });
      return value;
    },
  };
  return Param(name, pipe);
};

export const modelClassIdParam = (name: string) => patternParam(name, MODEL_CLASS_ID_PATTERN, MODEL_CLASS_ID_RULE);

export const symbolParam = (name: string) =>
  patternParam(name, SYMBOL_PATTERN, 'an instrument symbol such as LLAMA-3.1-70B-INSTRUCT-SPOT (upper case)');
