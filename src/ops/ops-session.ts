import { Inject, Injectable } from '@nestjs/common';
import { DomainError, forbidden } from '../common/domain-error.js';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { isAdmin, type Principal } from '../platform/http/auth.js';
import { ApiKeyAuthenticator } from '../participants/api-key-authenticator.js';

/** The session cookie's name and path: only the console's pages ever receive it. */
export const SESSION_COOKIE = 'tokex_ops';
export const OPS_PATH = '/ops';

/** What the signed session cookie carries: the admin's key by id (never the key) and when it ends. */
interface SessionClaims {
  readonly k: string;
  readonly e: number;
}

export interface OpsSession {
  readonly principal: Principal;
  readonly expiresAt: Date;
}

/**
 * Sessions of the ops console. Signing in checks an admin API key once; the cookie then names
 * the key by id, signed (by @fastify/cookie, with OPS_SESSION_SECRET) and with an expiry. Every
 * request re-reads the key and its participant, so revoking the key or suspending the admin
 * ends the session at once.
 */
@Injectable()
export class OpsSessions {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeyAuthenticator,
  ) {}

  /** Checks an API key for the console; answers the session and the cookie's (unsigned) value. */
  async signIn(rawKey: string, now = new Date()): Promise<OpsSession & { readonly cookie: string }> {
    const principal = await this.keys.authenticate(rawKey);
    if (!isAdmin(principal)) throw forbidden('ROLE_REQUIRED', 'the ops console is for admins: this key is not an admin\'s');
    const expiresAt = new Date(now.getTime() + this.config.ops.sessionTtlMs);
    const claims: SessionClaims = { k: principal.apiKeyId, e: expiresAt.getTime() };
    return { principal, expiresAt, cookie: Buffer.from(JSON.stringify(claims)).toString('base64url') };
  }

  /** The session a verified cookie value names, or undefined when it has ended or is no longer an admin's. */
  async resolve(cookie: string, now = new Date()): Promise<OpsSession | undefined> {
    const claims = parseClaims(cookie);
    if (!claims || claims.e <= now.getTime()) return undefined;
    try {
      const principal = await this.keys.authenticateKeyId(claims.k);
      return isAdmin(principal) ? { principal, expiresAt: new Date(claims.e) } : undefined;
    } catch (error) {
      if (error instanceof DomainError) return undefined; // revoked, or suspended
      throw error;
    }
  }

  get ttlMs(): number {
    return this.config.ops.sessionTtlMs;
  }
}

function parseClaims(cookie: string): SessionClaims | undefined {
  try {
    const claims = JSON.parse(Buffer.from(cookie, 'base64url').toString('utf8')) as Partial<SessionClaims>;
    return typeof claims.k === 'string' && typeof claims.e === 'number' ? { k: claims.k, e: claims.e } : undefined;
  } catch {
    return undefined;
  }
}
