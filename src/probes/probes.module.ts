import { Module } from '@nestjs/common';
import { NodeProbeJob } from './node-probe.job.js';
import { NodeProber } from './node-prober.js';

@Module({ providers: [NodeProber, NodeProbeJob], exports: [NodeProber, NodeProbeJob] })
export class ProbesModule {}
