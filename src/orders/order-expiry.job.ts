import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { OrderBooks } from './order-books.js';

/**
 * GTD orders expire in their book's writer, on time, while a process serves the book. A book no
 * process serves (no traffic since a restart) would keep its overdue orders and their holds:
 * this sweep finds them and expires them, borrowing the book only if nobody holds it.
 */
@Injectable()
@HandlesJob('orders.expire-overdue')
export class OrderExpiryJob implements JobHandler<'orders.expire-overdue'> {
  private readonly logger = new Logger(OrderExpiryJob.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: OrderBooks,
  ) {}

  async handle(payload: { reason: string }): Promise<void> {
    const rows: Array<{ instrument: string }> = await this.dataSource.query(
      `SELECT DISTINCT instrument FROM orders WHERE status = 'open' AND time_in_force = 'GTD' AND expires_at < now() - interval '2 seconds'`,
    );
    for (const { instrument } of rows) {
      const expired = await this.books.expireOverdue(instrument);
      if (expired > 0) this.logger.log({ reason: payload.reason, instrument, expired }, 'overdue GTD orders expired');
    }
  }
}
