import { Injectable, Logger } from '@nestjs/common';
import { HandlesJob, type JobContext, type JobHandler } from '../platform/jobs/job-handler.js';
import { NodeProber } from './node-prober.js';

/** The scheduled probe round (`nodes.probe`, every NODE_PROBE_INTERVAL_MS). */
@Injectable()
@HandlesJob('nodes.probe')
export class NodeProbeJob implements JobHandler<'nodes.probe'> {
  private readonly logger = new Logger(NodeProbeJob.name);

  constructor(private readonly prober: NodeProber) {}

  async handle(payload: { reason: string }, context: JobContext): Promise<void> {
    const results = await this.prober.probeDue(new Date(), context.manager);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      this.logger.warn(
        { reason: payload.reason, probed: results.length, failed: failed.map((r) => ({ node: r.nodeId, error: r.error })) },
        'node probes failed',
      );
    } else {
      this.logger.debug({ reason: payload.reason, probed: results.length }, 'node probes');
    }
  }
}
