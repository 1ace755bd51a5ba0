import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { JobQueues } from './job-queues.js';
import { JobRegistry } from './job-registry.js';
import { JobRunner } from './job-runner.js';
import { JobWorkers } from './job-workers.js';
import { Outbox } from './outbox.js';
import { OutboxSweeper } from './outbox-sweeper.js';

@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [JobRegistry, JobQueues, JobRunner, Outbox, OutboxSweeper, JobWorkers],
  exports: [JobQueues, Outbox, JobWorkers, OutboxSweeper],
})
export class JobsModule {}
