/**
 * A counting semaphore with FIFO waiters: the concurrency limit of one function, or of the runner.
 */
import { RunnerStoppedError } from '../errors.js';

export class Semaphore {
  private available: number;
  private readonly waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private closed = false;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`a semaphore needs a limit >= 1, got ${limit}`);
    this.available = limit;
  }

  /** Slots in use right now. */
  get inUse(): number {
    return this.limit - this.available;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once a slot is free; rejects with {@link RunnerStoppedError} after `close()`. */
  acquire(): Promise<void> {
    if (this.closed) return Promise.reject(new RunnerStoppedError('a waiting invocation'));
    if (this.available > 0) {
      this.available -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) {
      next.resolve();
      return;
    }
    this.available = Math.min(this.limit, this.available + 1);
  }

  /** Rejects every waiter and all later `acquire()` calls. */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new RunnerStoppedError('a waiting invocation'));
  }
}
