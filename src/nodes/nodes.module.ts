import { Module } from '@nestjs/common';
import { MarketsModule } from '../markets/markets.module.js';
import { ParticipantsModule } from '../participants/participants.module.js';
import { NodesController } from './nodes.controller.js';
import { NodesService } from './nodes.service.js';

@Module({ imports: [MarketsModule, ParticipantsModule], controllers: [NodesController], providers: [NodesService], exports: [NodesService] })
export class NodesModule {}
