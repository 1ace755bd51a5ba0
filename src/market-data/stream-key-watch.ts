import { Logger } from '@nestjs/common';
import type { ApiKeyAuthenticator, KeyInvalidation, KeyStanding } from '../participants/api-key-authenticator.js';
import type { StreamSession } from './stream-session.js';

/**
 * Keeps the stream's authenticated sessions honest: a session whose key is revoked, or whose
 * participant is suspended, loses its private channels. A change made in this process is seen at
 * once (the authenticator's invalidation); one made by another API process within the key cache's
 * TTL, by reading the standing of every authenticated session's key in one query each TTL (and
 * only while some session is authenticated).
 */
export class StreamKeyWatch {
  private readonly logger = new Logger(StreamKeyWatch.name);
  private readonly sessions = new Set<StreamSession>();
  private readonly timer: NodeJS.Timeout;
  private readonly stopListening: () => void;
  private checking = false;

  constructor(
    private readonly authenticator: ApiKeyAuthenticator,
    intervalMs: number,
    /** Called for a session whose key (`apiKeyId`, as checked) may no longer be used. */
    private readonly lost: (session: StreamSession, apiKeyId: string, standing: Exclude<KeyStanding, 'active'>) => void,
  ) {
    this.stopListening = authenticator.onInvalidated((match) => void this.check((s) => matches(s, match)));
    this.timer = setInterval(() => void this.periodic(), intervalMs);
    this.timer.unref();
  }

  watch(session: StreamSession): void {
    this.sessions.add(session);
  }

  forget(session: StreamSession): void {
    this.sessions.delete(session);
  }

  stop(): void {
    clearInterval(this.timer);
    this.stopListening();
  }

  private async periodic(): Promise<void> {
    if (this.checking || this.sessions.size === 0) return;
    this.checking = true;
    try {
      await this.check(() => true);
    } finally {
      this.checking = false;
    }
  }

  private async check(which: (session: StreamSession) => boolean): Promise<void> {
    const checked = [...this.sessions].flatMap((session) => (session.principal && which(session) ? [{ session, apiKeyId: session.principal.apiKeyId }] : []));
    if (checked.length === 0) return;
    try {
      const standing = await this.authenticator.standing([...new Set(checked.map((c) => c.apiKeyId))]);
      for (const { session, apiKeyId } of checked) {
        const now = standing.get(apiKeyId) ?? 'revoked';
        if (now !== 'active') this.lost(session, apiKeyId, now);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'could not re-check the stream sessions\' API keys; the next check tries again');
    }
  }
}

const matches = (session: StreamSession, match: KeyInvalidation) =>
  session.principal !== undefined && (session.principal.participantId === match.participantId || session.principal.apiKeyId === match.apiKeyId);
