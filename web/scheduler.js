/**
 * Continuous batching: one scheduler per model, shared by the Model and every
 * session createSession() made. A session's generation loop does not call
 * wl_decode itself; it hands its step (the next token, or a chunk of its
 * prompt) to `decode()` and awaits it. The steps handed over during one
 * macrotask turn run together as ONE wl_decode_batch call, so N streams read
 * the weights once per step instead of N times. Results are bit-identical to
 * decoding alone (src/wasmllm.h promises it; tests/node/batching.test.js
 * checks it through the API).
 *
 * Prompts are fed in chunks of at most PROMPT_BATCH tokens. While some
 * stream waits for its next token, a step carries at most PROMPT_BATCH prompt
 * tokens in all, so a long prompt arriving mid-stream costs the running
 * streams one chunk's time per step instead of the whole prompt's.
 *
 * Exclusive work: any other wasm call that must not interleave with a batch
 * step (a speculative-decoding verification through wl_decode_all,
 * embeddings, anything that reads one context's logits across an await)
 * goes through `exclusive(fn)`: fn runs alone between two steps, and no step
 * runs until the promise it returns has settled.
 *
 *   const logits = await scheduler.exclusive(() => { M._wl_decode_all(...); return copyRows(); });
 *
 * Edge hosts (workerd) cancel a request that awaits a promise another
 * request settles, so there (`poll: true`) no step's promise is settled by
 * the step that ran it: each caller checks its own step on its own timer and
 * runs the step itself once the others are in (see #decodePolling).
 */
import { WasmllmError } from './errors.js';
import { abortError } from './sources.js';

/** Prompt tokens per step (the C side's WL_MAX_CHUNK: a larger chunk would be split there again). */
export const PROMPT_BATCH = 32;

/**
 * Poll mode: a step waits at most this many timer turns for the sequences of
 * the recent steps to hand over theirs before it runs without them.
 */
const POLL_TICKS = 2;
/** Poll mode: the sequences of this many recent steps are the ones a step waits for. */
const POLL_RECENT = 8;
const timerTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Yields to the event loop so timers, I/O and abort signals can run between steps. */
export const nextMacrotask = typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : (() => {
      const channel = new MessageChannel();
      const queue = [];
      channel.port1.onmessage = () => queue.shift()?.();
      return () => new Promise((resolve) => { queue.push(resolve); channel.port2.postMessage(0); });
    })();

/**
 * @typedef {{ ctx: number, ids: number[], prompt: boolean, resolve: () => void,
 *   reject: (e: unknown) => void, signal?: AbortSignal, onAbort: (() => void) | null }} Step
 *   ctx: the wl_context; prompt: a prompt chunk (else a decode step of one token)
 * @typedef {{ fn: () => any, resolve: (v: any) => void, reject: (e: unknown) => void }} ExclusiveJob
 * @typedef {{ M: any, heap: () => Uint8Array, err: number, failure: () => Error }} SchedulerHost
 *   heap: the current wasm heap view; failure: the Error the last failing C call left in `err`
 */

export class Scheduler {
  /** @type {SchedulerHost} */
  #host;
  /** false: every step runs alone through wl_decode, in turns (the behaviour before batching) */
  #batch;
  /** @type {Step[]} */
  #pending = [];
  /** @type {ExclusiveJob[]} */
  #exclusive = [];
  #flushQueued = false;
  /** An exclusive job is running: steps wait for it. */
  #busy = false;
  /** Heap buffers for wl_decode_batch's arguments, grown as needed. */
  #buf = { ptr: 0, seqs: 0, tokens: 0 };
  #closed = false;
  /** Poll mode (edge hosts): see the file comment. */
  #poll;
  /** Poll mode: the contexts of each of the last POLL_RECENT steps. @type {number[][]} */
  #recent = [];
  /** Counters for tests and benchmarks: steps run, steps that were one wl_decode_batch, most sequences in one step. */
  stats = { batches: 0, steps: 0, maxSeqs: 0 };

  /** @param {SchedulerHost} host @param {{ batch?: boolean, poll?: boolean }} [options] */
  constructor(host, options = {}) {
    this.#host = host;
    this.#batch = options.batch ?? true;
    this.#poll = options.poll ?? false;
  }

  /** Whether steps of several sequences share one wl_decode_batch call. */
  get batching() { return this.#batch; }

  /**
   * Appends `ids` to context `ctx` in the next step. Resolves once they are
   * in its KV cache with fresh logits for the last one; rejects at once if
   * `signal` aborts first (the step leaves the batch), or with the C error.
   * @param {number} ctx @param {number[]} ids 1..PROMPT_BATCH tokens
   * @param {{ prompt?: boolean, signal?: AbortSignal }} [o]
   * @returns {Promise<void>}
   */
  decode(ctx, ids, o = {}) {
    if (this.#closed) return Promise.reject(new WasmllmError('ERR_DISPOSED', 'this model has been disposed'));
    if (o.signal?.aborted) return Promise.reject(abortError(o.signal));
    if (this.#poll) return this.#decodePolling(ctx, ids, o);
    return new Promise((resolve, reject) => {
      /** @type {Step} */
      const step = { ctx, ids, prompt: o.prompt ?? false, resolve, reject, signal: o.signal, onAbort: null };
      if (o.signal) {
        step.onAbort = () => this.#drop(step, abortError(/** @type {AbortSignal} */ (o.signal)));
        o.signal.addEventListener('abort', step.onAbort, { once: true });
      }
      this.#pending.push(step);
      this.#queueFlush();
    });
  }

  /**
   * decode() for poll mode: the step is settled by flags, never by another
   * request's promise. Its caller runs the step once every sequence of the
   * recent steps has handed over its next one, or after POLL_TICKS turns of
   * its own timer (a sequence that ended, or whose client reads slowly).
   * @param {number} ctx @param {number[]} ids @param {{ prompt?: boolean, signal?: AbortSignal }} o
   */
  async #decodePolling(ctx, ids, o) {
    const state = { done: false, error: /** @type {unknown} */ (null) };
    /** @type {Step} */
    const step = {
      ctx, ids, prompt: o.prompt ?? false, signal: undefined, onAbort: null,
      resolve: () => { state.done = true; },
      reject: (e) => { state.done = true; state.error = e; },
    };
    this.#pending.push(step);
    for (let ticks = 0; !state.done; ticks++) {
      if (o.signal?.aborted) this.#drop(step, abortError(o.signal));
      else if (!this.#busy && (ticks >= POLL_TICKS || this.#othersIn())) this.#runNow();
      if (!state.done) await timerTurn();
    }
    if (state.error) throw state.error;
  }

  /** Poll mode: whether every sequence of the recent steps has a step pending. */
  #othersIn() {
    const waiting = new Set(this.#pending.map((s) => s.ctx));
    return this.#recent.every((ctxs) => ctxs.every((c) => waiting.has(c)));
  }

  /** Poll mode: one step, now, in the caller's own turn. */
  #runNow() {
    const steps = this.#take();
    if (steps.length === 0) return;
    this.#recent.push(steps.map((s) => s.ctx));
    if (this.#recent.length > POLL_RECENT) this.#recent.shift();
    this.#runGuarded(steps);
  }

  /**
   * Runs `fn` alone between two steps (see the file comment); resolves with
   * what it returns (awaited).
   * @template T @param {() => T | Promise<T>} fn @returns {Promise<T>}
   */
  exclusive(fn) {
    if (this.#closed) return Promise.reject(new WasmllmError('ERR_DISPOSED', 'this model has been disposed'));
    if (this.#poll) return this.#exclusivePolling(fn);
    return new Promise((resolve, reject) => {
      this.#exclusive.push({ fn, resolve, reject });
      this.#queueFlush();
    });
  }

  /**
   * exclusive() for poll mode: steps run inside their callers' turns, so
   * between two of them nothing else runs; only another exclusive job still
   * running (an async one) is waited for, on this caller's own timer.
   * @template T @param {() => T | Promise<T>} fn @returns {Promise<T>}
   */
  async #exclusivePolling(fn) {
    while (this.#busy) await timerTurn();
    if (this.#closed) throw new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
    this.#busy = true;
    try {
      return await fn();
    } finally {
      this.#busy = false;
    }
  }

  /** Rejects the pending steps of context `ctx` (its session is being disposed). @param {number} ctx @param {Error} error */
  cancel(ctx, error) {
    for (const step of this.#pending.filter((s) => s.ctx === ctx)) this.#drop(step, error);
  }

  /** Rejects everything pending and frees the heap buffers (before the model's wasm goes). */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    const error = new WasmllmError('ERR_DISPOSED', 'this model has been disposed');
    for (const step of [...this.#pending]) this.#drop(step, error);
    for (const job of this.#exclusive.splice(0)) job.reject(error);
    if (this.#buf.ptr) this.#host.M._wl_free(this.#buf.ptr);
    this.#buf = { ptr: 0, seqs: 0, tokens: 0 };
  }

  /** @param {Step} step @param {unknown} error */
  #drop(step, error) {
    const i = this.#pending.indexOf(step);
    if (i < 0) return;
    this.#pending.splice(i, 1);
    step.signal?.removeEventListener('abort', /** @type {() => void} */ (step.onAbort));
    step.reject(error);
  }

  /**
   * One step per macrotask: every session whose previous step finished has
   * handed over its next one (microtasks) by the time the flush runs.
   */
  #queueFlush() {
    if (this.#flushQueued || this.#closed) return;
    this.#flushQueued = true;
    nextMacrotask().then(() => this.#flush());
  }

  async #flush() {
    this.#flushQueued = false;
    if (this.#busy || this.#closed) return;
    const steps = this.#take();
    if (steps.length > 0) this.#runGuarded(steps);
    // Exclusive jobs after the step: a long queue of steps cannot starve them, nor they the steps.
    const jobs = this.#exclusive.splice(0);
    if (jobs.length > 0) {
      this.#busy = true;
      for (const job of jobs) {
        try {
          job.resolve(await job.fn());
        } catch (e) {
          job.reject(e);
        }
      }
      this.#busy = false;
    }
    if (this.#pending.length > 0 || this.#exclusive.length > 0) this.#queueFlush();
  }

  /**
   * The steps of this flush: every decode step, plus prompt chunks in arrival
   * order, at most PROMPT_BATCH tokens of them while a decode step is waiting.
   */
  #take() {
    const decoding = this.#pending.some((s) => !s.prompt);
    let budget = decoding ? PROMPT_BATCH : Infinity;
    const taken = [];
    const seen = new Set();
    for (const step of this.#pending) {
      if (seen.has(step.ctx)) continue; // a context's next chunk waits for the step after
      if (step.prompt) {
        if (step.ids.length > budget && taken.some((s) => s.prompt)) continue;
        budget -= step.ids.length;
      }
      seen.add(step.ctx);
      taken.push(step);
    }
    this.#pending = this.#pending.filter((s) => !taken.includes(s));
    for (const s of taken) s.signal?.removeEventListener('abort', /** @type {() => void} */ (s.onAbort));
    return taken;
  }

  /**
   * #run, and if the wasm traps (an abort inside C), every step of this
   * flush fails with the trap instead of waiting forever.
   * @param {Step[]} steps
   */
  #runGuarded(steps) {
    const settled = new Set();
    const track = (s) => ({ ...s, resolve: () => { settled.add(s); s.resolve(); }, reject: (e) => { settled.add(s); s.reject(e); } });
    try {
      this.#run(steps.map(track));
    } catch (e) {
      for (const s of steps) if (!settled.has(s)) s.reject(e);
    }
  }

  /** Runs the steps (one batch, or in turns without batching) and settles each. @param {Step[]} steps */
  #run(steps) {
    this.stats.steps++;
    this.stats.maxSeqs = Math.max(this.stats.maxSeqs, steps.length);
    if (this.#batch && steps.length > 1) {
      if (this.#decodeBatch(steps)) {
        this.stats.batches++;
        for (const s of steps) s.resolve();
        return;
      }
      // Checked before anything ran, so nothing was appended: alone, only the failing sequence fails.
    }
    const { M, err, failure } = this.#host;
    for (const s of steps) {
      const ptr = this.#reserve(1, s.ids.length);
      if (!ptr) { s.reject(new WasmllmError('ERR_OOM', 'cannot allocate the decode buffers')); continue; }
      new Int32Array(this.#host.heap().buffer, this.#buf.ptr + 8 * this.#buf.seqs, s.ids.length).set(s.ids);
      if (M._wl_decode(s.ctx, this.#buf.ptr + 8 * this.#buf.seqs, s.ids.length, err) !== 0) s.reject(failure());
      else s.resolve();
    }
  }

  /** One wl_decode_batch over all steps; false if it failed (nothing was appended). @param {Step[]} steps */
  #decodeBatch(steps) {
    const n = steps.length;
    const total = steps.reduce((t, s) => t + s.ids.length, 0);
    if (!this.#reserve(n, total)) return false;
    const { ptr, seqs } = this.#buf;
    const buffer = this.#host.heap().buffer;
    const ctxs = new Int32Array(buffer, ptr, n);
    const counts = new Int32Array(buffer, ptr + 4 * seqs, n);
    const tokens = new Int32Array(buffer, ptr + 8 * seqs, total);
    let at = 0;
    steps.forEach((s, i) => {
      ctxs[i] = s.ctx;
      counts[i] = s.ids.length;
      tokens.set(s.ids, at);
      at += s.ids.length;
    });
    return this.#host.M._wl_decode_batch(ptr, ptr + 8 * seqs, ptr + 4 * seqs, n, this.#host.err) === 0;
  }

  /**
   * Room for n context pointers, n counts and `tokens` token ids (one
   * allocation: pointers, counts, tokens). Returns the pointer, 0 if out of memory.
   * @param {number} n @param {number} tokens
   */
  #reserve(n, tokens) {
    if (this.#buf.ptr && this.#buf.seqs >= n && this.#buf.tokens >= tokens) return this.#buf.ptr;
    const seqs = Math.max(n, this.#buf.seqs, 8);
    const room = Math.max(tokens, this.#buf.tokens, PROMPT_BATCH * 2);
    const M = this.#host.M;
    if (this.#buf.ptr) M._wl_free(this.#buf.ptr);
    // Pointers past 2 GiB come back from wasm as negative i32: read them unsigned.
    const ptr = M._wl_alloc(4 * (2 * seqs + room)) >>> 0;
    this.#buf = ptr ? { ptr, seqs, tokens: room } : { ptr: 0, seqs: 0, tokens: 0 };
    return ptr;
  }
}
