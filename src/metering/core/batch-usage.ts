import type { AcceptedUsage } from './verify-batch.js';

/**
 * A verified batch's usage as settlement records it: one row per delivery, the sum of the
 * batch's billed records for it, keyed `batch:<node>:<batch>:<delivery>` (the node and the
 * delivery are UUIDs, so the key cannot be confused with another batch's). A batch is verified
 * once, so the key counts its tokens once, as the per-request keys did; a request counts once
 * per node already (usage_records). One row per record made every payout mark thousands of rows
 * paid while it held the buyer's and the provider's accounts, which stalled their order entry
 * (bench:metering, issue 15).
 */
export function usagePerDelivery(nodeId: string, batchId: string, usage: readonly AcceptedUsage[]): AcceptedUsage[] {
  const tokens = new Map<string, bigint>();
  for (const u of usage) tokens.set(u.deliveryId, (tokens.get(u.deliveryId) ?? 0n) + u.tokens);
  return [...tokens].filter(([, t]) => t > 0n).map(([deliveryId, t]) => ({ id: `batch:${nodeId}:${batchId}:${deliveryId}`, deliveryId, tokens: t }));
}
