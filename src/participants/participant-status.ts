/**
 * A participant's status with a share lock on its row, as a subquery for the caller's statement
 * (`idSql` names the participant: a parameter or a column): a suspension (an UPDATE of that row)
 * then waits for the caller's commit, or the caller for the suspension's, so nothing the caller
 * commits slips in behind a suspension it did not see.
 */
export const participantStatusForShareSql = (idSql: string): string => `SELECT status FROM participants WHERE id = ${idSql} FOR SHARE`;
