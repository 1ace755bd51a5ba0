import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { JobName, JobPayloads } from './job-definitions.js';

/**
 * Work that must happen because of something the caller is committing. Call `add` inside the
 * caller's transaction: the row commits with its cause or not at all, and the worker's sweeper
 * delivers it to BullMQ until a job marks it done. Adding the same (job, key) twice is a no-op.
 */
@Injectable()
export class Outbox {
  async add<N extends JobName>(manager: EntityManager, name: N, key: string, payload: JobPayloads[N]): Promise<void> {
    await manager.query(
      `INSERT INTO outbox (job_name, job_key, payload) VALUES ($1, $2, $3)
       ON CONFLICT (job_name, job_key) DO NOTHING`,
      [name, key, JSON.stringify(payload)],
    );
    // Wake the sweeper now rather than at its next tick; delivered only if the transaction commits.
    await manager.query(`SELECT pg_notify('tokex_outbox', '')`);
  }
}
