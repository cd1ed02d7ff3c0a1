/**
 * Continuous batching through the public API (web/scheduler.js): sessions of
 * one model that generate at once share each decode step (one
 * wl_decode_batch), and every session's tokens and log-probabilities are
 * bit-identical to generating alone, whatever the others do (different
 * prompt lengths, finishing early, aborting, being disposed, embedding).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, WasmllmError } from '../../web/node/index.js';
import { PROMPT_BATCH, Scheduler } from '../../web/scheduler.js';
import path from 'node:path';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { EMBEDDED, VOCAB_SPM, collectPieces, tempDir, tinyModel } from './runtime-fixtures.js';

const LONG = 'ROMEO:\n' + 'What light through yonder window breaks? It is the east, and Juliet is the sun. '.repeat(6);
/** Prompts of 1 to several prompt chunks, options that make each end at another time. */
const JOBS = [
  { prompt: 'ROMEO:\nBut soft', options: { maxTokens: 20, temperature: 0, logprobs: 3 } },
  { prompt: LONG, options: { maxTokens: 12, temperature: 0, logprobs: 3 } },
  { prompt: 'JULIET:\nO Romeo, Romeo, wherefore art thou', options: { maxTokens: 3, temperature: 0, logprobs: 3 } },
  { prompt: 'KING HENRY:\nOnce more unto the breach', options: { maxTokens: 16, temperature: 0.8, seed: 42, logprobs: 3 } },
];

let model;
/** Each job generated alone (one session at a time, so every step is a plain wl_decode). */
let alone;

before(async () => {
  model = await loadModel(EMBEDDED, { threads: 1, contextSize: 512 });
  alone = [];
  for (const j of JOBS) alone.push(await collectPieces(model.complete(j.prompt, j.options)));
  assert.equal(model.batchStats().batches, 0, 'one session at a time never batches');
});

after(() => model?.dispose());

/** n sessions: the model itself and n - 1 created ones. */
function sessions(n) {
  return [model, ...Array.from({ length: n - 1 }, () => model.createSession())];
}

const disposeExtra = (list) => { for (const s of list) if (s !== model) s.dispose(); };

test('concurrent sessions with different prompt lengths and ends: bit-identical to alone, in shared steps', async () => {
  const list = sessions(JOBS.length);
  try {
    const before = model.batchStats();
    const runs = await Promise.all(JOBS.map((j, i) => collectPieces(list[i].complete(j.prompt, j.options))));
    runs.forEach((r, i) => {
      assert.deepEqual(r.pieces, alone[i].pieces, `job ${i}: pieces (tokens, text, logprobs) as alone`);
      assert.equal(r.result.text, alone[i].result.text);
      assert.equal(r.result.finishReason, alone[i].result.finishReason);
    });
    const stats = model.batchStats();
    assert.equal(stats.enabled, true);
    assert.equal(stats.maxSequences, JOBS.length, 'one step carried every session');
    // All four decode together until the shortest ends: most steps are batches.
    assert.ok(stats.batches - before.batches >= 10, `batched steps: ${stats.batches - before.batches}`);
  } finally {
    disposeExtra(list);
  }
});

test('a session aborted mid-stream leaves the batch at once; the others are unchanged', async () => {
  const list = sessions(3);
  try {
    const controller = new AbortController();
    const victim = (async () => {
      let n = 0;
      for await (const piece of list[1].complete(JOBS[1].prompt, { ...JOBS[1].options, maxTokens: 200, signal: controller.signal })) {
        assert.ok(piece);
        if (++n === 4) controller.abort();
      }
    })();
    const others = [0, 3].map((j, k) => collectPieces(list[k === 0 ? 0 : 2].complete(JOBS[j].prompt, JOBS[j].options)));
    await assert.rejects(victim, { code: 'ERR_ABORTED' });
    const [a, b] = await Promise.all(others);
    assert.deepEqual(a.pieces, alone[0].pieces);
    assert.deepEqual(b.pieces, alone[3].pieces);
    // The aborted session is usable again, and alone-identical.
    assert.deepEqual((await collectPieces(list[1].complete(JOBS[2].prompt, JOBS[2].options))).pieces, alone[2].pieces);
  } finally {
    disposeExtra(list);
  }
});

test('an abort while a step is pending rejects it without waiting for the step', async () => {
  const list = sessions(2);
  try {
    const controller = new AbortController();
    const it = list[1].complete(LONG, { maxTokens: 8, temperature: 0, signal: controller.signal });
    const first = it.next(); // hands its first prompt chunk to the scheduler
    controller.abort(); // before any macrotask: the chunk never runs
    await assert.rejects(first, { code: 'ERR_ABORTED' });
    const again = await collectPieces(list[1].complete(JOBS[1].prompt, JOBS[1].options));
    assert.equal(again.result.promptEvaluated, again.result.promptTokens.length, 'nothing of the aborted prompt was cached');
    assert.deepEqual(again.pieces, alone[1].pieces);
  } finally {
    disposeExtra(list);
  }
});

test('a session disposed mid-stream ends with ERR_DISPOSED; the others are unchanged', async () => {
  const list = sessions(3);
  const doomed = list[2];
  try {
    const victim = (async () => {
      let n = 0;
      for await (const piece of doomed.complete(JOBS[1].prompt, { ...JOBS[1].options, maxTokens: 200 })) {
        assert.ok(piece);
        // Disposed from elsewhere while its next step waits in the scheduler.
        if (++n === 3) setImmediate(() => doomed.dispose());
      }
    })();
    const runs = [0, 3].map((j, k) => collectPieces(list[k].complete(JOBS[j].prompt, JOBS[j].options)));
    await assert.rejects(victim, (e) => e instanceof WasmllmError && e.code === 'ERR_DISPOSED');
    const [a, b] = await Promise.all(runs);
    assert.deepEqual(a.pieces, alone[0].pieces);
    assert.deepEqual(b.pieces, alone[3].pieces);
  } finally {
    disposeExtra(list);
  }
});

test('a long prompt arriving mid-stream is fed in chunks between the running streams\' steps', async () => {
  const list = sessions(2);
  try {
    const events = [];
    const longPrompt = LONG.repeat(2);
    const chunks = Math.ceil(model.tokenize(longPrompt).length / PROMPT_BATCH);
    assert.ok(chunks >= 5, `the prompt needs several chunks (${chunks})`);
    let late = null;
    const stream = (async () => {
      const pieces = [];
      for await (const p of list[0].complete(JOBS[0].prompt, { ...JOBS[0].options, maxTokens: 40 })) {
        pieces.push(p);
        events.push('a');
        if (pieces.length === 2) {
          late = collectPieces((async function* () {
            for await (const q of list[1].complete(longPrompt, { maxTokens: 4, temperature: 0 })) {
              events.push('b');
              yield q;
            }
          })());
        }
      }
      return pieces;
    })();
    const pieces = await stream;
    await late;
    // Stream a kept emitting while b's prompt ran: one token per chunk, not a stall of the whole prompt.
    const firstB = events.indexOf('b');
    const aDuring = events.slice(2, firstB).filter((e) => e === 'a').length;
    assert.ok(aDuring >= chunks - 1, `stream a emitted ${aDuring} tokens during b's ${chunks}-chunk prompt`);
    const reference = await collectPieces(model.complete(JOBS[0].prompt, { ...JOBS[0].options, maxTokens: 40 }));
    assert.deepEqual(pieces, reference.pieces);
  } finally {
    disposeExtra(list);
  }
});

test('several prompts arriving together share one chunk per step while a stream waits for its tokens', async () => {
  const list = sessions(4);
  try {
    const events = [];
    const chunks = Math.ceil(model.tokenize(LONG).length / PROMPT_BATCH);
    let late = null;
    const stream = (async () => {
      let n = 0;
      for await (const p of list[0].complete(JOBS[0].prompt, { ...JOBS[0].options, maxTokens: 60 })) {
        assert.ok(p);
        events.push('a');
        if (++n === 2) {
          late = Promise.all([1, 2, 3].map((k) => (async () => {
            for await (const q of list[k].complete(`${k}${LONG}`, { maxTokens: 2, temperature: 0 })) {
              assert.ok(q);
              events.push(`b${k}`);
            }
          })()));
        }
      }
    })();
    await stream;
    await late;
    // Until the last of the three prompts is done, a step carries one prompt chunk beside a's token.
    const lastFirst = Math.max(...[1, 2, 3].map((k) => events.indexOf(`b${k}`)));
    const aDuring = events.slice(2, lastFirst).filter((e) => e === 'a').length;
    assert.ok(aDuring >= 3 * chunks - 2, `stream a emitted ${aDuring} tokens during three ${chunks}-chunk prompts`);
  } finally {
    disposeExtra(list);
  }
});

test('embed() runs as an exclusive job between the steps of generating sessions', async () => {
  const list = sessions(3);
  try {
    const vectorAlone = (await list[2].embed(['But soft, what light']))[0];
    const gens = [0, 1].map((j) => collectPieces(list[j].complete(JOBS[j].prompt, JOBS[j].options)));
    const vectors = await list[2].embed(['But soft, what light', 'through yonder window breaks']);
    assert.deepEqual(Array.from(vectors[0]), Array.from(vectorAlone));
    const runs = await Promise.all(gens);
    runs.forEach((r, i) => assert.deepEqual(r.pieces, alone[i].pieces));
  } finally {
    disposeExtra(list);
  }
});

test('batch: false runs the same steps in turns with the same results; batch must be a boolean', async () => {
  await assert.rejects(loadModel(EMBEDDED, { batch: 'yes' }), { code: 'ERR_BAD_ARG', message: /batch must be a boolean/ });
  const turns = await loadModel(EMBEDDED, { threads: 1, contextSize: 512, batch: false });
  const list = [turns, turns.createSession(), turns.createSession()];
  try {
    const runs = await Promise.all(JOBS.slice(0, 3).map((j, i) => collectPieces(list[i].complete(j.prompt, j.options))));
    runs.forEach((r, i) => assert.deepEqual(r.pieces, alone[i].pieces));
    const stats = turns.batchStats();
    assert.equal(stats.enabled, false);
    assert.equal(stats.batches, 0);
    assert.equal(stats.maxSequences, 3, 'the three still took their turns in the same steps');
  } finally {
    turns.dispose();
  }
});

test('disposing the model rejects every pending step; batchStats() then says ERR_DISPOSED', async () => {
  const m = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
  const s = m.createSession();
  const a = m.complete('ROMEO:', { maxTokens: 50, temperature: 0 });
  const b = s.complete('JULIET:', { maxTokens: 50, temperature: 0 });
  await a.next();
  await b.next();
  const pa = a.next(), pb = b.next();
  m.dispose();
  await assert.rejects(pa, { code: 'ERR_DISPOSED' });
  await assert.rejects(pb, { code: 'ERR_DISPOSED' });
  assert.throws(() => m.batchStats(), { code: 'ERR_DISPOSED' });
});

/** A 6-layer lfm2 (convolution layers beside attention: per-sequence convolution state). */
function lfm2Model() {
  const file = path.join(tempDir(), 'batching-lfm2.gguf');
  buildSynthetic({ arch: 'lfm2', shape: 'tiny-gqa', type: 'F32', seed: 5, vocab: VOCAB_SPM,
    overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, headDim: 16, ctx: 512 } }).writer.write(file);
  return file;
}

for (const [name, file] of [['a GQA llama (Q8_0, 32000 tokens)', () => tinyModel()], ['lfm2 (convolutions)', lfm2Model]]) {
  test(`${name}: concurrent sessions are bit-identical to alone`, async () => {
    const m = await loadModel(file(), { threads: 1, contextSize: 512 });
    const list = [m, m.createSession(), m.createSession()];
    try {
      const prompts = ['Once upon a time', 'The little girl wore a red riding cloak, so everyone in the village called her Little Red Riding Hood. '.repeat(3), 'Hello'];
      const options = [{ maxTokens: 10 }, { maxTokens: 6 }, { maxTokens: 12 }].map((o) => ({ ...o, temperature: 0, repeatPenalty: 1, logprobs: 2 }));
      const single = [];
      for (let i = 0; i < 3; i++) single.push(await collectPieces(m.complete(prompts[i], options[i])));
      const runs = await Promise.all(prompts.map((p, i) => collectPieces(list[i].complete(p, options[i]))));
      runs.forEach((r, i) => assert.deepEqual(r.pieces, single[i].pieces, `sequence ${i}`));
      assert.equal(m.batchStats().maxSequences, 3);
    } finally {
      m.dispose();
    }
  });
}

/** A scheduler over a fake wasm module that records each call's sequences. */
function fakeScheduler(options, { trap = false } = {}) {
  const heap = new Uint8Array(1 << 16);
  const calls = [];
  const M = {
    _wl_alloc: () => 1024,
    _wl_free: () => {},
    _wl_decode_batch: (ctxs, tokens, counts, n) => {
      if (trap) throw new WebAssembly.RuntimeError('unreachable');
      calls.push(Array.from(new Int32Array(heap.buffer, ctxs, n)));
      return 0;
    },
    _wl_decode: (ctx) => { calls.push([ctx]); return 0; },
  };
  const scheduler = new Scheduler({ M, heap: () => heap, err: 0, failure: () => new Error('failed') }, options);
  return { scheduler, calls };
}

test('a trap inside a batched step fails every step of it (none waits forever); later steps run', async () => {
  const { scheduler } = fakeScheduler({}, { trap: true });
  const steps = [1, 2, 3].map((ctx) => scheduler.decode(ctx, [5]));
  for (const p of steps) await assert.rejects(p, WebAssembly.RuntimeError);
  await scheduler.decode(4, [5]); // alone: wl_decode, which works
});

test('poll mode (edge hosts): callers run the steps themselves and still share them', async () => {
  const { scheduler, calls } = fakeScheduler({ poll: true });
  // Three generation loops of 6 steps each, as three requests would run them.
  await Promise.all([11, 12, 13].map(async (ctx) => {
    for (let i = 0; i < 6; i++) await scheduler.decode(ctx, [1]);
  }));
  assert.equal(calls.flat().length, 18, 'every step ran once');
  assert.ok(calls.some((c) => c.length === 3), `some step carried all three: ${JSON.stringify(calls)}`);
  const controller = new AbortController();
  const aborted = scheduler.decode(11, [1], { signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, { code: 'ERR_ABORTED' });
});
