/**
 * A fixed pool of worker threads for decoding instances and preparing series (decode-worker.ts).
 * Tasks queue when every worker is busy; a worker that dies fails its task and is replaced. Idle workers
 * do not keep the process alive. Create one per node (or per test) and close() it on shutdown.
 */
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PoolRequest, PoolResponse, PrepareResult, RangeSource } from './pool-protocol';
import type { DecodedInstance } from './read-frames';
import { UnusableImageError } from './read-frames';
import type { SliceInput } from './pipeline';
import type { PreparationStep } from './steps';
import type { SliceRegions } from './regions';

type Distributive<T> = T extends unknown ? Omit<T, 'id'> : never;
type Task = Distributive<PoolRequest>;

interface Pending {
  task: Task;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  busy?: Pending & { id: number };
}

export interface WorkerPoolOptions {
  /** Worker threads (default: CPU cores - 1, at least 1, at most 4). */
  size?: number;
}

export class WorkerPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    this.size = Math.max(1, options.size ?? Math.min(4, cores - 1));
  }

  decode(filePath: string): Promise<DecodedInstance> {
    return this.run({ type: 'decode', path: filePath }) as Promise<DecodedInstance>;
  }

  /**
   * Prepare slices[k] with regions[k] in a worker. The intensity ranges of volume-scoped normalize steps
   * are given (`{ volumeRanges }`, from an earlier answer for the same series) or computed there from
   * `{ volumePixels }` (every slice of the series: send only the slices to prepare and, once, the series);
   * the answer gives the ranges it used, for the caller to keep.
   */
  prepare(slices: SliceInput[], steps: PreparationStep[], regions: (SliceRegions | undefined)[], ranges: RangeSource): Promise<PrepareResult> {
    return this.run({ type: 'prepare', slices, steps, regions, ranges }) as Promise<PrepareResult>;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('worker pool closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private run(task: Task): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('worker pool closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const p = this.queue.shift()!;
      const id = this.nextId++;
      slot.busy = { ...p, id };
      slot.worker.ref();
      slot.worker.postMessage({ ...p.task, id } as PoolRequest);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(path.join(__dirname, 'decode-worker.js'));
    const slot: Slot = { worker };
    worker.unref();
    worker.on('message', (msg: PoolResponse) => {
      const busy = slot.busy;
      if (!busy || busy.id !== msg.id) return;
      slot.busy = undefined;
      worker.unref();
      if (msg.ok) busy.resolve(msg.result);
      else busy.reject(reviveError(msg.error));
      this.dispatch();
    });
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const busy = slot.busy;
      slot.busy = undefined;
      busy?.reject(new Error(`preparation worker failed: ${err.message}`));
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }
}

/** Errors cross the thread boundary as name + message; known kinds come back as their classes. */
function reviveError(e: { name: string; message: string }): Error {
  if (e.name === 'UnusableImageError') return new UnusableImageError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
