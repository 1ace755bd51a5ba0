/**
 * A counting semaphore: at most `size` holders at once, the rest wait in arrival order.
 *
 * Why jobs need one: a job runs inside a transaction (one pooled connection) and many handlers open
 * their own transactions or wait on the book writer (a second connection). With every queue's
 * workers running at full concurrency, jobs alone could hold every connection and wait forever for
 * one more. Capping running jobs at half the pool leaves a connection for each one's inner work.
 */
export class JobSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`job slots must be a positive integer, got ${size}`);
    this.free = size;
  }

  /** Job slots for a database pool of `poolSize` connections: half of it, at least one. */
  static forPool(poolSize: number): JobSlots {
    return new JobSlots(Math.max(1, Math.floor(poolSize / 2)));
  }

  get inUse(): number {
    return this.size - this.free;
  }

  /** Runs `work` in a slot, waiting for one if all are taken. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // A waiter takes the slot over directly, so a new arrival cannot overtake it.
    if (next) next();
    else this.free += 1;
  }
}
