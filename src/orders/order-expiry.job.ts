import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { HandlesJob, type JobHandler } from '../platform/jobs/job-handler.js';
import { BookGateway } from './book-gateway.js';

/**
 * GTD orders expire in their book's writer, on time, while a process serves the book. A book no
 * process serves (no traffic since a restart) would keep its overdue orders and their holds:
 * this sweep finds them and sends the book an expire command through its gateway, which takes
 * the book if nobody holds it, and gives it back afterwards unless it was serving it already.
 */
@Injectable()
@HandlesJob('orders.expire-overdue')
export class OrderExpiryJob implements JobHandler<'orders.expire-overdue'> {
  private readonly logger = new Logger(OrderExpiryJob.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly books: BookGateway,
  ) {}

  async handle(payload: { reason: string }): Promise<void> {
    const rows: Array<{ instrument: string }> = await this.dataSource.query(
      `SELECT DISTINCT instrument FROM orders WHERE status = 'open' AND time_in_force = 'GTD' AND expires_at < now() - interval '2 seconds'`,
    );
    for (const { instrument } of rows) {
      const served = this.books.serves(instrument);
      const expired = (await this.books.submit(instrument, { kind: 'expire' })).closed.length;
      if (!served && this.books.serves(instrument)) await this.books.release(instrument);
      if (expired > 0) this.logger.log({ reason: payload.reason, instrument, expired }, 'overdue GTD orders expired');
    }
  }
}
