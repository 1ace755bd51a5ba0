import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { JobQueues, type QueueDepth } from '../platform/jobs/job-queues.js';
import { Public } from '../platform/http/auth.js';
import { RedisConnections } from '../platform/redis/redis.module.js';

class CheckView {
  @ApiProperty() ok: boolean;
  @ApiProperty() latencyMs: number;
  @ApiProperty({ required: false }) error?: string;
}

class HealthView {
  @ApiProperty({ enum: ['ok', 'unavailable'] }) status: 'ok' | 'unavailable';
  @ApiProperty({ type: CheckView }) postgres: CheckView;
  @ApiProperty({ type: CheckView }) redis: CheckView;
  @ApiProperty({ description: 'Jobs waiting, active, delayed and failed per queue' }) queues: QueueDepth[] | { error: string };
}

const CHECK_TIMEOUT_MS = 2000;

async function timed(check: () => Promise<unknown>): Promise<CheckView> {
  const started = performance.now();
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref()),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisConnections,
    private readonly queues: JobQueues,
  ) {}

  @Get('health')
  @Public()
  @ApiOperation({ summary: 'Readiness: PostgreSQL, Redis and the job queues answer' })
  @ApiOkResponse({ type: HealthView })
  @ApiServiceUnavailableResponse({ type: HealthView })
  async health(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthView> {
    const [postgres, redis] = await Promise.all([timed(() => this.dataSource.query('SELECT 1')), timed(() => this.redis.client.ping())]);
    let queues: HealthView['queues'];
    try {
      queues = redis.ok ? await this.queues.depths() : { error: 'redis unavailable' };
    } catch (error) {
      queues = { error: (error as Error).message };
    }
    const ok = postgres.ok && redis.ok && Array.isArray(queues);
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', postgres, redis, queues };
  }
}
