import { Foundation1795715103202 } from './1795715103202-Foundation.js';
import { MarketsAndNodes1795717961491 } from './1795717961491-MarketsAndNodes.js';
import { Orders1795718894802 } from './1795718894802-Orders.js';
import { DeadManSwitch1795719255465 } from './1795719255465-DeadManSwitch.js';
import { Settlement1795723412048 } from './1795723412048-Settlement.js';
import { DeliveryKeys1796100000100 } from './1796100000100-DeliveryKeys.js';
import { NodeProbes1796100000200 } from './1796100000200-NodeProbes.js';
import { Metering1796100000300 } from './1796100000300-Metering.js';
import { InstrumentBond1796200000100 } from './1796200000100-InstrumentBond.js';
import { ForwardTerms1796300000100 } from './1796300000100-ForwardTerms.js';
import { ForwardSeries1796300000200 } from './1796300000200-ForwardSeries.js';
import { ForwardPositions1796300000300 } from './1796300000300-ForwardPositions.js';
import { RepairInterimForwards1796300000400 } from './1796300000400-RepairInterimForwards.js';
import { LedgerAudits1796400000100 } from './1796400000100-LedgerAudits.js';
import { DisputeRefunds1796500000100 } from './1796500000100-DisputeRefunds.js';
import { CumulativeReconciliation1796600000100 } from './1796600000100-CumulativeReconciliation.js';
import { OpenDeliveriesInCloseOrder1796700000100 } from './1796700000100-OpenDeliveriesInCloseOrder.js';
import { MeteringIngestAtScale1796800000200 } from './1796800000200-MeteringIngestAtScale.js';
import { Scorecards1796900000100 } from './1796900000100-Scorecards.js';
import { FeeAccountShards1797000000100 } from './1797000000100-FeeAccountShards.js';

// Every migration, in order. A new migration is generated into this folder and listed here.
export const MIGRATIONS = [Foundation1795715103202, MarketsAndNodes1795717961491, Orders1795718894802, DeadManSwitch1795719255465, Settlement1795723412048, DeliveryKeys1796100000100, NodeProbes1796100000200, Metering1796100000300, InstrumentBond1796200000100, ForwardTerms1796300000100, ForwardSeries1796300000200, ForwardPositions1796300000300, RepairInterimForwards1796300000400, LedgerAudits1796400000100, DisputeRefunds1796500000100, CumulativeReconciliation1796600000100, OpenDeliveriesInCloseOrder1796700000100, MeteringIngestAtScale1796800000200, Scorecards1796900000100, FeeAccountShards1797000000100];
