/**
 * A fixed set of generation slots with a FIFO queue in front: a request
 * waits for a free slot, and leaves the queue if its client goes away.
 */
import { WasmllmError } from './errors.js';

export class SlotPool {
  /** @param {unknown[]} engines one per slot @param {{ maxQueue?: number }} [o] */
  constructor(engines, o = {}) {
    this.free = engines.map((engine, index) => ({ engine, index }));
    this.size = engines.length;
    this.waiting = [];
    this.maxQueue = o.maxQueue ?? 256;
  }

  /** @param {AbortSignal} [signal] */
  acquire(signal) {
    if (signal?.aborted) return Promise.reject(new WasmllmError('ERR_ABORTED', 'request aborted while queued'));
    const slot = this.free.pop();
    if (slot) return Promise.resolve(slot);
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(Object.assign(new WasmllmError('ERR_BUSY', `all ${this.size} slots are busy and ${this.waiting.length} requests are queued`), { status: 503 }));
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, signal, onAbort: null };
      waiter.onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new WasmllmError('ERR_ABORTED', 'request aborted while queued'));
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(slot) {
    const next = this.waiting.shift();
    if (next) {
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve(slot);
    } else {
      this.free.push(slot);
    }
  }

  stats() {
    return { slots_total: this.size, slots_idle: this.free.length, slots_busy: this.size - this.free.length, queued: this.waiting.length };
  }
}
