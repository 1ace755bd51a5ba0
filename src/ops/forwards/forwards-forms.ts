import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { MARGIN_EVENTS } from '../../forwards/forwards.dto.js';
import { IsUsdAmount } from '../../platform/http/usd-amount.validator.js';
import { OpsForm } from '../ops-page.js';

/** An empty field of an HTML form (or a GET filter left blank) is a field not given. */
const Blank = () => Transform(({ value }: { value: unknown }) => (value === '' ? undefined : value));

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const PRICE = /^\d{1,7}(\.\d{1,6})?$/;

/** What a form's redirect tells the page to say (fixed messages: a link cannot make the page say anything else). */
export const DONE = {
  marked: 'Marked: the day\'s mark is in the list below (a day marked before keeps its mark, and nothing moves again).',
  expired: 'The contract expired: its deliveries are created and its positions closed.',
  insurance: 'The insurance fund was topped up.',
} as const;
export type Done = keyof typeof DONE;

class Flash {
  @IsOptional() @IsIn(Object.keys(DONE))
  done?: Done;
}

class Cursor extends Flash {
  @IsOptional() @Blank() @IsString() @MaxLength(512)
  cursor?: string;
}

export class ContractsQuery extends Cursor {}

export class DefaultsQuery extends Cursor {}

export class PositionsQuery extends Cursor {
  @IsOptional() @Blank() @IsString() @MaxLength(100)
  instrument?: string;

  @IsOptional() @Blank() @IsUUID(undefined, { message: 'participant must be a UUID' })
  participant?: string;
}

export class MarginCallsQuery extends Cursor {
  @IsOptional() @Blank() @IsIn(['open', 'all'], { message: 'status must be open or all' })
  status?: 'open' | 'all';

  @IsOptional() @Blank() @IsIn(MARGIN_EVENTS, { message: `event must be one of: ${MARGIN_EVENTS.join(', ')}` })
  event?: (typeof MARGIN_EVENTS)[number];

  @IsOptional() @Blank() @IsString() @MaxLength(100)
  instrument?: string;
}

export class ContractQuery extends Flash {
  @IsOptional() @Blank() @IsString() @MaxLength(512)
  positionsCursor?: string;

  @IsOptional() @Blank() @IsString() @MaxLength(512)
  marksCursor?: string;
}

class Reasoned extends OpsForm {
  @IsString({ message: 'reason is required' }) @MinLength(3, { message: 'reason is required: at least 3 characters' }) @MaxLength(500)
  reason: string;
}

/** Run a contract's daily mark now: a day that has ended (default: the last), an optional override price. */
export class RunMarkForm extends Reasoned {
  @IsOptional() @Blank() @IsString() @Matches(DAY, { message: 'day must be a date "YYYY-MM-DD"' })
  day?: string;

  @IsOptional() @Blank() @IsString() @Matches(PRICE, { message: 'price must be a positive decimal, e.g. "2.150"' })
  price?: string;
}

export class ExpireForm extends Reasoned {}

export class InsuranceDepositForm extends Reasoned {
  @IsUsdAmount()
  amount: string;

  @IsOptional() @Blank() @IsString() @MaxLength(200)
  reference?: string;
}
