import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toErrorBody } from '../platform/http/exception.filter.js';
import { refuse } from '../platform/http/route-limits.js';
import type { MeteringService, NodeKey } from './metering.service.js';

export const USAGE_BATCH_ROUTE = '/v1/metering/usage-batches';
/** 5,000 records a batch (api.md), with room to spare; only a registered node's request is read. */
export const USAGE_BATCH_BODY_LIMIT = 8 * 1024 * 1024;

/** The node the gate read for a request, so the route does not read it a second time. */
const senders = new WeakMap<FastifyRequest, NodeKey>();

/** The node the gate read for this request's X-Tokex-Node, if it did. */
export const gatedSender = (request: FastifyRequest): NodeKey | undefined => senders.get(request);

/**
 * The usage-batch route is public (a node signs its batch instead of sending an API key), and the
 * only one with a large body: before reading it, the request must name a registered node and carry
 * a signature, which is then checked over the exact bytes before anything else.
 */
export function registerUsageBatchGate(fastify: FastifyInstance, metering: MeteringService): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== USAGE_BATCH_ROUTE || request.method !== 'POST') return;
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    try {
      senders.set(request, await metering.batchSender(header('x-tokex-node'), header('x-tokex-signature')));
    } catch (error) {
      const body = toErrorBody(error, request.id);
      if (body.statusCode >= 500) throw error;
      return refuse(reply, body.statusCode, body.code, body.message);
    }
  });
}
