import { Foundation1795715103202 } from './1795715103202-Foundation.js';
import { MarketsAndNodes1795717961491 } from './1795717961491-MarketsAndNodes.js';

// Every migration, in order. A new migration is generated into this folder and listed here.
export const MIGRATIONS = [Foundation1795715103202, MarketsAndNodes1795717961491];
