import { Module } from '@nestjs/common';
import { NodeProbeJob } from './node-probe.job.js';
import { NodeProber } from './node-prober.js';
import { NodeProbesRepository } from './node-probes.repository.js';

@Module({ providers: [NodeProber, NodeProbeJob, NodeProbesRepository], exports: [NodeProber, NodeProbeJob, NodeProbesRepository] })
export class ProbesModule {}
