/**
 * The ceiling of `bench:orders`: a bare Nest application on Fastify, as the service is built
 * (same versions, same adapter), with one `GET /ping` route and nothing else: no hooks, guards,
 * pipes, metrics or logging. What any request of tokex costs beyond it is tokex's own.
 *
 *   npm run build && node dist/bench/bare-nest.cli.js --port 8100
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8100' }, host: { type: 'string', default: '127.0.0.1' } } });

@Controller()
class PingController {
  @Get('ping')
  ping(): { ok: true } {
    return { ok: true };
  }
}

@Module({ controllers: [PingController] })
class BareModule {}

const app = await NestFactory.create<NestFastifyApplication>(BareModule, new FastifyAdapter(), { logger: false });
await app.listen({ port: Number(values.port), host: values.host! });
console.log(JSON.stringify({ msg: 'bare nest listening', url: await app.getUrl() }));
