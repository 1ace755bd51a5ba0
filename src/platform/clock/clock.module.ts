import { Global, Module } from '@nestjs/common';
import { Clock } from './clock.js';

/** Makes `Clock` injectable everywhere; tests replace it with `overrideProvider(Clock)`. */
@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
