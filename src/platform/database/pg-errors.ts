/** The PostgreSQL SQLSTATEs the service acts on, and how it reads one from a driver error. */
export const UNIQUE_VIOLATION = '23505';
export const CHECK_VIOLATION = '23514';
const SERIALIZATION_FAILURE = '40001';
const DEADLOCK_DETECTED = '40P01';

/** The SQLSTATE of an error the pg driver raised; undefined for any other error. */
export const sqlStateOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** A deadlock or a serialization failure: the transaction is void, and running it again may well succeed. */
export function isDeadlockOrSerializationFailure(error: unknown): boolean {
  const code = sqlStateOf(error);
  return code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED;
}
