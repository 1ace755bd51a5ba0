import { Foundation1795715103202 } from './1795715103202-Foundation.js';
import { MarketsAndNodes1795717961491 } from './1795717961491-MarketsAndNodes.js';
import { Orders1795718894802 } from './1795718894802-Orders.js';
import { DeadManSwitch1795719255465 } from './1795719255465-DeadManSwitch.js';

// Every migration, in order. A new migration is generated into this folder and listed here.
export const MIGRATIONS = [Foundation1795715103202, MarketsAndNodes1795717961491, Orders1795718894802, DeadManSwitch1795719255465];
