import type { DepthLevel, Side } from '../../matching/index.js';

/** One aggregated price level after a batch; quantity 0 means the level is gone. */
export interface LevelChange {
  readonly side: Side;
  readonly priceTicks: number;
  readonly quantity: number;
  readonly orderCount: number;
}

/** The levels that differ between two L2 views of one side (quantity 0: the level is gone). */
export function levelChanges(side: Side, before: readonly DepthLevel[], after: readonly DepthLevel[]): LevelChange[] {
  const old = new Map(before.map((l) => [l.priceTicks, l]));
  const changes: LevelChange[] = [];
  for (const level of after) {
    const previous = old.get(level.priceTicks);
    old.delete(level.priceTicks);
    if (!previous || previous.quantity !== level.quantity || previous.orderCount !== level.orderCount) changes.push({ side, ...level });
  }
  for (const gone of old.values()) changes.push({ side, priceTicks: gone.priceTicks, quantity: 0, orderCount: 0 });
  return changes;
}
