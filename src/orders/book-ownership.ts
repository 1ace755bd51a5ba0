import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import { BOOK_WRITE_LOCK } from './batch-commit.js';

const APPLICATION_PREFIX = 'tokex:books:';
/** The advisory lock key of a book's ownership, with the symbol as parameter $1. */
const OWNERSHIP_KEY = `hashtext('tokex:book:' || $1)::bigint`;

/**
 * Who serves which book. A process owns a book while it holds the book's PostgreSQL advisory lock,
 * on a connection of its own kept for the process's life and named after the process
 * (`application_name`): two processes can never match the same book; a process that dies, or
 * loses that connection, releases its books at once; and any process can find a book's owner by
 * asking PostgreSQL who holds the lock (pg_locks joined to pg_stat_activity), with no registry
 * that could go stale.
 */
@Injectable()
export class BookOwnership {
  private readonly logger = new Logger(BookOwnership.name);
  /** This process's id, as other processes address it. */
  readonly processId = randomUUID();
  private connection?: Promise<pg.Client>;
  private readonly lostListeners = new Set<() => void>();
  private readonly notificationListeners = new Map<string, (payload: string) => void>();
  /** The last query sent on the lock connection: the next one waits for it. */
  private lastQuery: Promise<unknown> = Promise.resolve();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Called when the lock connection is lost: every book must stop being served. */
  onLost(listener: () => void): void {
    this.lostListeners.add(listener);
  }

  /** NOTIFY payloads of `channel`, on the lock connection (LISTEN once, for the process's life). */
  async listen(channel: string, listener: (payload: string) => void): Promise<void> {
    this.notificationListeners.set(channel, listener);
    await this.query(`LISTEN ${channel}`);
  }

  /**
   * Takes the book if nobody holds it. A previous owner that died may still have a batch
   * committing on another of its connections (PostgreSQL may close the lock's connection first);
   * every batch holds the book's write lock shared, so taking it exclusively once waits for any
   * such batch to end before the book is read.
   */
  async tryTake(symbol: string): Promise<boolean> {
    const [{ owned }] = await this.query(`SELECT pg_try_advisory_lock(${OWNERSHIP_KEY}) AS owned`, [symbol]);
    if (owned) await this.query(`SELECT pg_advisory_lock(${BOOK_WRITE_LOCK}), pg_advisory_unlock(${BOOK_WRITE_LOCK})`, [symbol]);
    return owned;
  }

  async release(symbol: string): Promise<void> {
    if (!(await this.connection?.catch(() => undefined))) return;
    await this.query(`SELECT pg_advisory_unlock(${OWNERSHIP_KEY})`, [symbol]);
  }

  /** The process that owns the book now, or undefined if nobody does. */
  async ownerOf(symbol: string): Promise<string | undefined> {
    const rows = await this.query(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.classid = ((${OWNERSHIP_KEY} >> 32) & 4294967295)::oid AND l.objid = (${OWNERSHIP_KEY} & 4294967295)::oid`,
      [symbol],
    );
    const name: string | undefined = rows[0]?.application_name;
    return name?.startsWith(APPLICATION_PREFIX) ? name.slice(APPLICATION_PREFIX.length) : undefined;
  }

  async close(): Promise<void> {
    const client = await this.connection?.catch(() => undefined);
    this.connection = undefined;
    await client?.end().catch(() => undefined);
  }

  /**
   * One query at a time on the lock connection, in the order asked: many books are taken at once
   * at start-up, and a pg client refuses overlapping queries from pg 9 on (pg 8 queues them, with
   * a deprecation warning).
   */
  private query(sql: string, params?: unknown[]): Promise<any[]> {
    const run = this.lastQuery.then(async () => (await (await this.client()).query(sql, params)).rows);
    this.lastQuery = run.catch(() => undefined);
    return run;
  }

  private client(): Promise<pg.Client> {
    this.connection ??= (async () => {
      const client = new pg.Client({ connectionString: this.config.database.url, application_name: `${APPLICATION_PREFIX}${this.processId}` });
      client.on('error', (error) => {
        // Losing this connection loses the locks: stop serving every book rather than risk a second writer.
        this.logger.error({ err: error.message }, 'book lock connection lost; stopping all writers');
        this.connection = undefined;
        this.lostListeners.forEach((listener) => listener());
      });
      client.on('notification', (message) => message.payload && this.notificationListeners.get(message.channel)?.(message.payload));
      await client.connect();
      for (const channel of this.notificationListeners.keys()) await client.query(`LISTEN ${channel}`);
      return client;
    })();
    return this.connection;
  }
}
