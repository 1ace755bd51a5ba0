import type { OpenOrderRow } from './order-records.js';

/** Bytes a chunk holds; a record longer than this gets a chunk of its own. */
const CHUNK_BYTES = 65_536;
/**
 * A handle is chunk × CHUNK_BYTES + offset, kept below 2^30 so that V8 stores it unboxed: a book
 * of more than 1 GiB of open order rows (about six million orders) cannot load, where a text of
 * that size could not have been read into JavaScript either.
 */
const MAX_CHUNKS = 2 ** 30 / CHUNK_BYTES;
const NEWLINE = 0x0a;
const TAB = '\t';

/**
 * The rows of a book's loaded open orders, copied into buffers outside the JavaScript heap until a
 * batch asks for one (`LiveOrders.keep`). Kept as strings, a million rows each survived two
 * young-generation collections and were copied both times (bench:recovery). A row is its line,
 * then, only when it has any, a tab and its two free texts as JSON (which escapes tabs and
 * newlines), then a newline.
 */
export class KeptRows {
  private readonly chunks: Buffer[] = [];
  private used = CHUNK_BYTES;

  /** Copies `row` and returns the handle that reads it back. */
  keep([line, clientOrderId, closeReason]: OpenOrderRow): number {
    const texts = clientOrderId === null && closeReason === null ? '' : TAB + JSON.stringify([clientOrderId, closeReason]);
    const bytes = line.length + Buffer.byteLength(texts) + 1; // the line is ASCII: one byte a character
    if (this.used + bytes > CHUNK_BYTES) this.newChunk(Math.max(bytes, CHUNK_BYTES));
    const chunk = this.chunks[this.chunks.length - 1];
    const handle = (this.chunks.length - 1) * CHUNK_BYTES + this.used;
    this.used += chunk.write(line, this.used, 'latin1');
    if (texts !== '') this.used += chunk.write(texts, this.used, 'utf8');
    chunk[this.used++] = NEWLINE;
    return handle;
  }

  read(handle: number): OpenOrderRow {
    const chunk = this.chunks[Math.floor(handle / CHUNK_BYTES)];
    const start = handle % CHUNK_BYTES;
    const record = chunk.toString('utf8', start, chunk.indexOf(NEWLINE, start));
    const tab = record.indexOf(TAB);
    if (tab === -1) return [record, null, null];
    const [clientOrderId, closeReason] = JSON.parse(record.slice(tab + 1)) as [string | null, string | null];
    return [record.slice(0, tab), clientOrderId, closeReason];
  }

  private newChunk(bytes: number): void {
    if (this.chunks.length >= MAX_CHUNKS) throw new Error(`KeptRows: more than ${MAX_CHUNKS * CHUNK_BYTES} bytes of open orders in one book`);
    this.chunks.push(Buffer.allocUnsafe(bytes));
    this.used = 0;
  }
}
