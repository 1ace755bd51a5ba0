import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { UsageBatch, UsageRecord } from '../protocol/usage-batch.js';
import { MAX_RECORDS_PER_BATCH, parseUsageBatch } from '../protocol/usage-batch.js';
import type { AgentLog } from './proxy.js';

/**
 * The node agent's durable usage spool: no usage record is lost while tokex is unreachable or
 * the agent restarts, and none is sent twice.
 *
 * Files in SPOOL_DIR:
 *
 *   segment-<id>.jsonl     the open segment: one UsageRecord per line, appended in groups
 *   batch-<batchId>.json   a sealed UsageBatch waiting for tokex's acknowledgement
 *   rejected/              batches tokex refused (4xx): batch-<id>.json and batch-<id>.answer.json
 *
 * Segment and batch ids are UUIDv7, made monotonic, so sorting file names sorts by age and the
 * poster sends the oldest batch first.
 *
 * The protocol (every step is durable before the next one starts):
 *
 *   1. append  Records are buffered for at most 50 ms or 500 records, then written to the open
 *              segment as one group and fsynced. The segment file is created on its first write,
 *              and the directory fsynced, so its name survives a crash too.
 *   2. seal    When the segment holds BATCH_MAX_RECORDS records, or every FLUSH_INTERVAL_MS, it is
 *              closed (new records go to a new segment) and its records are written as batches:
 *              batch-<id>.json.tmp, fsync, rename to batch-<id>.json, fsync the directory.
 *   3. retire  Only then is the segment unlinked, and the directory fsynced.
 *   4. post    Only then does the poster see the batches. A batch file is deleted when tokex
 *              acknowledged it (2xx, or 409 "already known"), or moved to rejected/ (other 4xx).
 *
 * A crash between 2 and 3 leaves records both in a batch file and in the segment. That is the
 * only place where a record can be in two files, and the next start dedupes it: recovery reads
 * the request ids of every batch file first, then seals each leftover segment (oldest first)
 * without the records already batched. Since a batch is posted only after its segment is gone
 * (3 before 4), a segment never outlives a batch of its records that was acknowledged and
 * deleted, so this dedupe sees every copy. A torn last line (a crash mid-append, before the
 * fsync, so never acknowledged to anyone) is dropped; leftover *.tmp files are deleted (their
 * records are still in their segment). What a crash can lose is the one group not yet fsynced:
 * at most 50 ms of records. Should the same batch be posted twice anyway (tokex answered but the
 * agent died before deleting the file), tokex counts a batchId and a requestId once.
 */

export interface UsageSpoolOptions {
  readonly dir: string;
  readonly nodeId: string;
  /** Records per sealed batch (and per segment), at most MAX_RECORDS_PER_BATCH. */
  readonly batchMaxRecords?: number;
  /** How often a non-empty segment is sealed. */
  readonly flushIntervalMs?: number;
  /** Group commit: how long an appended record may wait for its fsync, and how many may wait. */
  readonly appendMaxDelayMs?: number;
  readonly appendMaxRecords?: number;
  readonly log?: AgentLog;
}

export interface RejectedAnswer {
  readonly status: number | null;
  readonly body: string;
}

const SEGMENT = /^segment-([0-9a-f-]{36})\.jsonl$/;
const BATCH = /^batch-([0-9a-f-]{36})\.json$/;
const REJECTED_DIR = 'rejected';

export class UsageSpool {
  private readonly dir: string;
  private readonly nodeId: string;
  private readonly batchMaxRecords: number;
  private readonly flushIntervalMs: number;
  private readonly appendMaxDelayMs: number;
  private readonly appendMaxRecords: number;
  private readonly log: AgentLog;
  private readonly ids = new MonotonicUuidV7();

  /** Records waiting for their group's fsync, with who waits for them. */
  private buffer: Array<{ record: UsageRecord; done: () => void; failed: (error: unknown) => void }> = [];
  private bufferTimer: NodeJS.Timeout | null = null;
  private sealTimer: NodeJS.Timeout | null = null;
  /** The open segment; null until the next write creates one. */
  private segment: { name: string; handle: FileHandle; records: UsageRecord[] } | null = null;
  /** Sealed batches on disk, oldest first. */
  private readonly batches: string[] = [];
  /** Every file operation runs in this one chain, so they never interleave. */
  private chain: Promise<void> = Promise.resolve();
  private readonly sealedListeners = new Set<() => void>();
  private closed = false;

  private constructor(options: UsageSpoolOptions) {
    this.dir = options.dir;
    this.nodeId = options.nodeId;
    this.batchMaxRecords = Math.min(options.batchMaxRecords ?? 1_000, MAX_RECORDS_PER_BATCH);
    this.flushIntervalMs = options.flushIntervalMs ?? 1_000;
    this.appendMaxDelayMs = options.appendMaxDelayMs ?? 50;
    this.appendMaxRecords = options.appendMaxRecords ?? 500;
    this.log = options.log ?? (() => undefined);
  }

  /** Opens the spool directory, recovering leftover segments and batches, and starts sealing. */
  static async open(options: UsageSpoolOptions): Promise<UsageSpool> {
    const spool = new UsageSpool(options);
    await spool.recover();
    spool.sealTimer = setInterval(() => {
      spool.seal().catch((error: unknown) => spool.log('error', 'sealing the usage spool failed', { err: errorText(error) }));
    }, spool.flushIntervalMs);
    spool.sealTimer.unref();
    return spool;
  }

  /** Sealed batches waiting for tokex, oldest first. */
  get pendingBatches(): readonly string[] {
    return this.batches;
  }

  /** Records not yet sealed into a batch (buffered or in the open segment). */
  get pendingRecords(): number {
    return this.buffer.length + (this.segment?.records.length ?? 0);
  }

  /** Told whenever new batches were sealed. */
  onSealed(listener: () => void): () => void {
    this.sealedListeners.add(listener);
    return () => this.sealedListeners.delete(listener);
  }

  /** Queues a record; resolves once it is fsynced in a segment. */
  append(record: UsageRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the usage spool is closed'));
    return new Promise<void>((done, failed) => {
      this.buffer.push({ record, done, failed });
      if (this.buffer.length >= this.appendMaxRecords) this.writeBuffered();
      else this.bufferTimer ??= setTimeout(() => this.writeBuffered(), this.appendMaxDelayMs);
    });
  }

  /** Writes what is buffered and seals the open segment into batches now. */
  seal(): Promise<void> {
    this.writeBuffered();
    return this.run(() => this.sealSegment());
  }

  /**
   * The batch as sealed; throws if its file is missing or is not a batch tokex would take (checked
   * as tokex checks it, so a batch that cannot be sent is kept aside, not retried). A record tokex
   * would refuse on its own (an upstream that answered twice with one id) does not hold the
   * batch back: tokex takes the rest and answers that record's reason.
   */
  async readBatch(batchId: string): Promise<UsageBatch> {
    const bytes = await readFile(join(this.dir, batchFile(batchId)));
    let parsed: ReturnType<typeof parseUsageBatch>;
    try {
      parsed = parseUsageBatch(bytes, this.nodeId);
    } catch (error) {
      throw new Error(`batch ${batchId} is malformed: ${errorText(error)}`);
    }
    if (parsed.batch.batchId !== batchId) throw new Error(`batch ${batchId} is malformed: its file holds batch ${parsed.batch.batchId}`);
    return parsed.batch;
  }

  /** tokex has the batch: forget it. */
  acknowledge(batchId: string): Promise<void> {
    return this.run(async () => {
      await unlink(join(this.dir, batchFile(batchId))).catch(ignoreMissing);
      await fsyncDir(this.dir);
      this.forget(batchId);
    });
  }

  /** tokex refused the batch for good: keep it, with the answer, in rejected/ for a person to look at. */
  reject(batchId: string, answer: RejectedAnswer): Promise<void> {
    return this.run(async () => {
      const rejected = join(this.dir, REJECTED_DIR);
      await mkdir(rejected, { recursive: true });
      const at = new Date().toISOString();
      await writeDurably(join(rejected, `batch-${batchId}.answer.json`), `${JSON.stringify({ batchId, at, ...answer }, null, 2)}\n`);
      await rename(join(this.dir, batchFile(batchId)), join(rejected, batchFile(batchId))).catch(ignoreMissing);
      await fsyncDir(rejected);
      await fsyncDir(this.dir);
      this.forget(batchId);
    });
  }

  /** Writes and seals what is pending and stops the timers. Sealed batches stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sealTimer) clearInterval(this.sealTimer);
    this.sealTimer = null;
    await this.seal();
  }

  private forget(batchId: string): void {
    const i = this.batches.indexOf(batchId);
    if (i >= 0) this.batches.splice(i, 1);
  }

  private run(step: () => Promise<void>): Promise<void> {
    const result = this.chain.then(step);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private writeBuffered(): void {
    if (this.bufferTimer) clearTimeout(this.bufferTimer);
    this.bufferTimer = null;
    if (this.buffer.length === 0) return;
    const group = this.buffer;
    this.buffer = [];
    this.run(async () => {
      for (let start = 0; start < group.length; ) {
        const segment = await this.openSegment();
        const room = this.batchMaxRecords - segment.records.length;
        const part = group.slice(start, start + room);
        await segment.handle.write(part.map(({ record }) => `${JSON.stringify(record)}\n`).join(''));
        await segment.handle.datasync();
        segment.records.push(...part.map(({ record }) => record));
        start += part.length;
        if (segment.records.length >= this.batchMaxRecords) await this.sealSegment();
      }
    }).then(
      () => group.forEach(({ done }) => done()),
      (error: unknown) => {
        this.log('error', 'writing usage records to the spool failed', { err: errorText(error), records: group.length });
        group.forEach(({ failed }) => failed(error));
      },
    );
  }

  private async openSegment(): Promise<NonNullable<UsageSpool['segment']>> {
    if (this.segment) return this.segment;
    const name = `segment-${this.ids.next()}.jsonl`;
    const handle = await open(join(this.dir, name), 'a');
    await fsyncDir(this.dir);
    this.segment = { name, handle, records: [] };
    return this.segment;
  }

  /** Steps 2 and 3 for the open segment; runs inside the chain. */
  private async sealSegment(): Promise<void> {
    const segment = this.segment;
    if (!segment) return;
    this.segment = null;
    await segment.handle.close();
    await this.retire(segment.name, segment.records);
  }

  /** Writes `records` as batches, then unlinks the segment they came from. */
  private async retire(segmentName: string, records: readonly UsageRecord[]): Promise<void> {
    const sealed: string[] = [];
    for (let start = 0; start < records.length; start += this.batchMaxRecords) {
      const batch: UsageBatch = {
        batchId: this.ids.next(),
        nodeId: this.nodeId,
        createdAt: new Date().toISOString(),
        records: records.slice(start, start + this.batchMaxRecords),
      };
      await writeDurably(join(this.dir, batchFile(batch.batchId)), JSON.stringify(batch), false);
      sealed.push(batch.batchId);
    }
    if (sealed.length > 0) await fsyncDir(this.dir);
    await unlink(join(this.dir, segmentName)).catch(ignoreMissing);
    await fsyncDir(this.dir);
    if (sealed.length === 0) return;
    this.batches.push(...sealed);
    this.log('debug', 'usage batches sealed', { batches: sealed, records: records.length });
    for (const listener of this.sealedListeners) listener();
  }

  private async recover(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).sort();
    for (const name of names.filter((n) => n.endsWith('.tmp'))) await unlink(join(this.dir, name)).catch(ignoreMissing);

    const batched = new Set<string>();
    for (const name of names) {
      const id = BATCH.exec(name)?.[1];
      if (!id) continue;
      this.ids.observe(id);
      try {
        const batch = await this.readBatch(id);
        for (const record of batch.records) batched.add(record.requestId);
        this.batches.push(id);
      } catch (error) {
        // Written by rename after an fsync, so never torn: a person has to look at it.
        this.log('error', 'a sealed usage batch cannot be read; moved to rejected/', { batchId: id, err: errorText(error) });
        await this.reject(id, { status: null, body: `unreadable at start-up: ${errorText(error)}` });
      }
    }

    let recovered = 0;
    let duplicates = 0;
    for (const name of names) {
      const id = SEGMENT.exec(name)?.[1];
      if (!id) continue;
      this.ids.observe(id);
      const { records, torn } = parseSegment(await readFile(join(this.dir, name), 'utf8'));
      if (torn > 0) this.log('warn', 'dropped torn lines from a usage segment (a crash before their fsync)', { segment: name, lines: torn });
      const fresh = records.filter((r) => {
        if (batched.has(r.requestId)) return false;
        batched.add(r.requestId);
        return true;
      });
      duplicates += records.length - fresh.length;
      recovered += fresh.length;
      await this.retire(name, fresh);
    }
    if (this.batches.length > 0 || recovered > 0) {
      this.log('info', 'usage spool recovered', { batches: this.batches.length, recoveredRecords: recovered, alreadyBatched: duplicates });
    }
  }
}

const batchFile = (batchId: string) => `batch-${batchId}.json`;

function parseSegment(text: string): { records: UsageRecord[]; torn: number } {
  const records: UsageRecord[] = [];
  let torn = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as UsageRecord;
      if (typeof record?.requestId === 'string') records.push(record);
      else torn += 1;
    } catch {
      torn += 1;
    }
  }
  return { records, torn };
}

/** Writes `path` via a fsynced temporary file and a rename, so it is never seen half-written. */
async function writeDurably(path: string, text: string, syncDir = true): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  if (syncDir) await fsyncDir(join(path, '..'));
}

/** Makes creations, renames and unlinks in `dir` durable. */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException)?.code !== 'ENOENT') throw error;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * UUIDv7 ids that sort in creation order, even within a millisecond (a 12-bit counter in rand_a)
 * and across restarts (`observe` moves the clock past ids found on disk).
 */
export class MonotonicUuidV7 {
  private lastMs = 0;
  private counter = 0;

  next(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = 0;
    } else if (++this.counter > 0xfff) {
      this.lastMs += 1;
      this.counter = 0;
    }
    const bytes = randomBytes(16);
    bytes.writeUIntBE(this.lastMs, 0, 6);
    bytes[6] = 0x70 | (this.counter >> 8);
    bytes[7] = this.counter & 0xff;
    bytes[8] = 0x80 | (bytes[8]! & 0x3f);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Ids made from now on sort after `id`. */
  observe(id: string): void {
    const hex = id.replace(/-/g, '');
    if (hex[12] !== '7') return;
    const ms = Number.parseInt(hex.slice(0, 12), 16);
    const counter = Number.parseInt(hex.slice(13, 16), 16);
    if (ms > this.lastMs || (ms === this.lastMs && counter > this.counter)) {
      this.lastMs = ms;
      this.counter = counter;
    }
  }
}
