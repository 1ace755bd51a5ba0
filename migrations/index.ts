import { Foundation1795715103202 } from './1795715103202-Foundation.js';

// Every migration, in order. A new migration is generated into this folder and listed here.
export const MIGRATIONS = [Foundation1795715103202];
