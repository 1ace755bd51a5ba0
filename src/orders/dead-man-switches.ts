import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../platform/config/app-config.js';
import type { Principal } from '../platform/http/auth.js';
import { OrdersService } from './orders.service.js';

const CHECK_EVERY_MS = 250;

/**
 * The dead-man switch of trading bots, as Kraken's cancelAllOrdersAfter: a bot arms it with a
 * timeout and keeps renewing it; if it stops (crashed, cut off), every open order of the
 * participant is cancelled when the deadline passes. Deadlines live in PostgreSQL, so a restart
 * does not disarm them.
 */
@Injectable()
export class DeadManSwitches implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeadManSwitches.name);
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly orders: OrdersService,
  ) {}

  /** Arms (or renews) the switch; a timeout of 0 disarms it. */
  async arm(actor: Principal, timeoutSeconds: number): Promise<{ currentTime: string; triggerTime: string | null }> {
    if (timeoutSeconds === 0) {
      const [{ now }]: Array<{ now: Date }> = await this.dataSource.query(
        `WITH disarmed AS (DELETE FROM dead_man_switches WHERE participant_id = $1) SELECT now() AS now`,
        [actor.participantId],
      );
      return { currentTime: now.toISOString(), triggerTime: null };
    }
    const [row]: Array<{ now: Date; deadline: Date }> = await this.dataSource.query(
      `INSERT INTO dead_man_switches (participant_id, deadline) VALUES ($1, now() + make_interval(secs => $2))
       ON CONFLICT (participant_id) DO UPDATE SET deadline = excluded.deadline
       RETURNING now() AS now, deadline`,
      [actor.participantId, timeoutSeconds],
    );
    return { currentTime: row.now.toISOString(), triggerTime: row.deadline.toISOString() };
  }

  onApplicationBootstrap(): void {
    if (this.config.role === 'worker') return; // books are served by API processes
    this.timer = setInterval(() => {
      this.checking ??= this.fireDue().finally(() => (this.checking = undefined));
    }, CHECK_EVERY_MS);
  }

  /**
   * Claims due switches with row locks (SKIP LOCKED: each fires in one process only), cancels the
   * orders, and removes a switch only once its orders are cancelled: if cancelling fails, the
   * transaction rolls back and the next check tries again.
   */
  private async fireDue(): Promise<void> {
    try {
      await this.dataSource.transaction(async (manager) => {
        const due: Array<{ participant_id: string }> = await manager.query(
          `SELECT participant_id FROM dead_man_switches WHERE deadline <= now() FOR UPDATE SKIP LOCKED`,
        );
        for (const { participant_id: participantId } of due) {
          const { cancelled } = await this.orders.cancelAllOf(participantId);
          await manager.query(`DELETE FROM dead_man_switches WHERE participant_id = $1`, [participantId]);
          this.logger.log({ participantId, cancelled: cancelled.length }, 'dead-man switch fired');
        }
      });
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'dead-man switch check failed; retrying');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
  }
}
