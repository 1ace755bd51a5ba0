import type { EntityManager } from 'typeorm';
import type { ParticipantStatus } from './participant.entity.js';

/**
 * A participant's status, read in the caller's transaction with a share lock on its row: a
 * suspension (an UPDATE of that row) then waits for the caller's commit, or the caller for the
 * suspension's, so nothing the caller commits slips in behind a suspension it did not see.
 */
export async function participantStatusForShare(manager: EntityManager, participantId: string): Promise<ParticipantStatus | undefined> {
  const [row]: Array<{ status: ParticipantStatus }> = await manager.query(`SELECT status FROM participants WHERE id = $1 FOR SHARE`, [participantId]);
  return row?.status;
}
