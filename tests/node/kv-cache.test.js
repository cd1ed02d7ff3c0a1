// KV cache types through the public API: loadModel(..., { kvType: 'q8_0' })
// keeps keys and values as Q8_0 blocks (llama.cpp's --cache-type-k/-v q8_0).
// Against the default f16 cache on the same model it must take 17/32 of the
// bytes and give nearly the same logits: measured over a 64-token greedy run
// of the f16 cache, teacher-forced (both caches see the same tokens, so one
// early disagreement does not derail the rest).
//
// Bounds, from measurement with margin (see docs/BENCHMARKS.md):
//   synthetic tiny llama, head dim 32: max |logit diff| 1.16 (1.8% of the
//     largest logit), top-1 agreement 60/64 -> allowed 4 and 56/64;
//   models/shakespeare.gguf (trained, head dim 32): 0.041 of 19.9, 64/64
//     -> allowed 0.25 and 62/64.
// A Q8_0 cache stored as zeros, or with K and V swapped, measured 51-66 and
// 5-16/64 on the synthetic model, 12-13 and 11-15/64 on Shakespeare: far
// outside the bounds (checked with builds broken on purpose).
//
// Every load goes through the st build of dist/ (or of WASMLLM_DIST, a
// scratch build) with a hook on wl_context_new, so the test can read the
// context's logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { parseChatArgs } from '../../web/node/cli-chat.js';
import { runServeCli } from '../../web/node/cli-serve.js';
import { EMBEDDED, ROOT, loadWithLogits, runCli, tinyModel } from './runtime-fixtures.js';

const STEPS = 64;

/** The TINY llama (2 layers, GQA) widened to head dim 32, the smallest a Q8_0 cache takes. */
const HD32 = { overrides: { dim: 128, heads: 4, kvHeads: 2, ffn: 256 } };

const load = loadWithLogits;

/** Runs a completion to its end; returns the Completion. */
async function drain(it) {
  for (;;) {
    const step = await it.next();
    if (step.done) return step.value;
  }
}

const argmax = (a) => a.reduce((best, x, i) => (x > a[best] ? i : best), 0);

/**
 * The f16 cache's greedy run, then both caches teacher-forced along it:
 * the largest logit difference, the largest logit, top-1 agreement, and how
 * long the q8_0 cache's own greedy run stays identical.
 */
async function compare(source, prompt) {
  const f16 = await load(source, { kvType: 'f16' });
  const q8 = await load(source, { kvType: 'q8_0' });
  try {
    const greedy = { maxTokens: STEPS, temperature: 0 };
    const ref = await drain(f16.model.complete(prompt, greedy));
    const own = await drain(q8.model.complete(prompt, greedy));
    assert.equal(ref.tokens.length, STEPS, 'the f16 run should not stop early');
    let maxDiff = 0, maxLogit = 0, agree = 0;
    for (let i = 0; i < STEPS; i++) {
      const ids = ref.promptTokens.concat(ref.tokens.slice(0, i));
      const rows = [];
      for (const { model, logits } of [f16, q8]) {
        await drain(model.complete(ids, { maxTokens: 1, temperature: 0 })); // logits of ids' last token
        rows.push(logits());
      }
      for (let j = 0; j < rows[0].length; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(rows[0][j] - rows[1][j]));
        maxLogit = Math.max(maxLogit, Math.abs(rows[0][j]));
      }
      assert.equal(argmax(rows[0]), ref.tokens[i], `f16 logits at step ${i} do not give its greedy token`);
      if (argmax(rows[1]) === ref.tokens[i]) agree++;
    }
    let samePrefix = 0;
    while (samePrefix < STEPS && own.tokens[samePrefix] === ref.tokens[samePrefix]) samePrefix++;
    return { maxDiff, maxLogit, agree, samePrefix };
  } finally {
    f16.model.dispose();
    q8.model.dispose();
  }
}

test('a q8_0 KV cache takes 17/32 (~53%) of the f16 bytes, in info() and memory() alike', async () => {
  const file = tinyModel('tiny-hd32.gguf', HD32);
  const f16 = await load(file, { kvType: 'f16' });
  const q8 = await load(file, { kvType: 'q8_0' });
  try {
    const a = f16.model.info(), b = q8.model.info();
    assert.equal(a.kvType, 'f16');
    assert.equal(b.kvType, 'q8_0');
    // 2 layers x 256 positions x 2 KV heads x (K + V) x 32 values: 2 bytes each, or 34 per 32.
    assert.equal(a.kvCacheBytes, 2 * 256 * 2 * 2 * 32 * 2);
    assert.equal(b.kvCacheBytes, 2 * 256 * 2 * 2 * 34);
    assert.equal(b.kvCacheBytes / a.kvCacheBytes, 17 / 32);
    const ma = f16.model.memory(), mb = q8.model.memory();
    assert.equal(ma.kvCacheBytes, a.kvCacheBytes);
    assert.equal(mb.kvCacheBytes, b.kvCacheBytes);
    // The saving is real heap: the rest (weights, scratch) is the same but for
    // a few hundred bytes of attention scratch.
    const saved = ma.heapInUseBytes - mb.heapInUseBytes;
    assert.ok(Math.abs(saved - (a.kvCacheBytes - b.kvCacheBytes)) < 1024,
      `heap in use differs by ${saved} bytes, the caches by ${a.kvCacheBytes - b.kvCacheBytes}`);
    // Sessions share the model's cache type; memory() counts every session.
    const session = q8.model.createSession({ contextSize: 128 });
    assert.equal(session.kvType, 'q8_0');
    assert.equal(session.kvCacheBytes, b.kvCacheBytes / 2);
    assert.equal(q8.model.memory().kvCacheBytes, b.kvCacheBytes * 1.5);
    session.dispose();
    assert.equal(q8.model.memory().kvCacheBytes, b.kvCacheBytes);
  } finally {
    f16.model.dispose();
    q8.model.dispose();
  }
});

test('the default cache is f16, unchanged', async () => {
  const file = tinyModel('tiny-hd32.gguf', HD32);
  const plain = await load(file);
  const f16 = await load(file, { kvType: 'F16' });
  try {
    assert.equal(plain.model.info().kvType, 'f16');
    assert.equal(f16.model.info().kvType, 'f16', 'names are case-insensitive');
    for (const m of [plain, f16]) await drain(m.model.complete('The quick brown fox', { maxTokens: 1, temperature: 0 }));
    assert.deepEqual(plain.logits(), f16.logits());
  } finally {
    plain.model.dispose();
    f16.model.dispose();
  }
});

test('synthetic llama (head dim 32): q8_0 logits stay within bounds of f16 over 64 greedy tokens', async (t) => {
  const r = await compare(tinyModel('tiny-hd32.gguf', HD32), 'The quick brown fox');
  t.diagnostic(`max |logit diff| ${r.maxDiff.toFixed(4)} (largest logit ${r.maxLogit.toFixed(2)}), top-1 agreement ${r.agree}/${STEPS}, free-running greedy identical for ${r.samePrefix} tokens`);
  assert.ok(r.maxDiff > 0, 'q8_0 gave exactly the f16 logits: the cache is not Q8_0');
  assert.ok(r.maxDiff <= 4, `max |logit diff| ${r.maxDiff} > 4`);
  assert.ok(r.agree >= 56, `top-1 agreement ${r.agree}/${STEPS} < 56`);
});

test('models/shakespeare.gguf: q8_0 logits stay within bounds of f16 over 64 greedy tokens', async (t) => {
  const r = await compare(EMBEDDED, 'ROMEO:');
  t.diagnostic(`max |logit diff| ${r.maxDiff.toFixed(4)} (largest logit ${r.maxLogit.toFixed(2)}), top-1 agreement ${r.agree}/${STEPS}, free-running greedy identical for ${r.samePrefix} tokens`);
  assert.ok(r.maxDiff > 0, 'q8_0 gave exactly the f16 logits: the cache is not Q8_0');
  assert.ok(r.maxDiff <= 0.25, `max |logit diff| ${r.maxDiff} > 0.25`);
  assert.ok(r.agree >= 62, `top-1 agreement ${r.agree}/${STEPS} < 62`);
});

test('bad kvType values and head dims a q8_0 cache cannot hold are refused with ERR_BAD_ARG', async () => {
  const file = tinyModel('tiny-hd32.gguf', HD32);
  for (const kvType of ['q4_0', 'f32', '', 8, null]) {
    await assert.rejects(load(file, { kvType }), (e) => {
      assert.equal(e.code, 'ERR_BAD_ARG', e.message);
      assert.ok(e.message.includes(typeof kvType === 'string' ? `'${kvType}'` : String(kvType)), `names the value: ${e.message}`);
      assert.ok(e.message.includes("'f16', 'q8_0'"), `names the accepted values: ${e.message}`);
      return true;
    });
  }
  // The plain TINY model has head dim 16: half a Q8_0 block.
  await assert.rejects(load(tinyModel(), { kvType: 'q8_0' }), (e) => {
    assert.equal(e.code, 'ERR_BAD_ARG', e.message);
    assert.match(e.message, /Q8_0 KV cache needs head dims that are multiples of 32, but this model's K head dim is 16/);
    return true;
  });
  // The same through the plain loader (dist/'s default build).
  await assert.rejects(loadModel(file, { kvType: 'bf16' }), (e) => e.code === 'ERR_BAD_ARG' && e.message.includes("'bf16'"));
});

test('--kv-type: run/complete, chat and serve take f16|q8_0 and refuse anything else as a usage error', async () => {
  const file = tinyModel('tiny-hd32.gguf', HD32);
  const args = ['-m', file, '-p', 'The quick brown fox', '-n', '8', '--temperature', '0', '-t', '1', '--json'];
  const f16 = await runCli(['complete', ...args, '--kv-type', 'f16']);
  const q8 = await runCli(['complete', ...args, '--kv-type', 'q8_0', '-v']);
  assert.equal(f16.code, 0, f16.stderr);
  assert.equal(q8.code, 0, q8.stderr);
  assert.equal(JSON.parse(q8.stdout).tokens.length, 8);
  assert.match(q8.stderr, /q8_0 KV cache/, 'the verbose line names the cache type');
  const bad = await runCli(['run', '-m', file, '--kv-type', 'q4_0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--kv-type must be one of 'f16', 'q8_0', got 'q4_0'/);

  assert.deepEqual(parseChatArgs(['--kv-type', 'q8_0']).load, { kvType: 'q8_0' });
  assert.deepEqual(parseChatArgs([]).load, {}, 'no flag: the loader\'s default');
  assert.throws(() => parseChatArgs(['--kv-type', 'int8']), (e) => e.code === 'ERR_BAD_ARG' && e.message.includes("'int8'"));

  const errors = [];
  const error = console.error;
  console.error = (line) => errors.push(String(line));
  try {
    assert.equal(await runServeCli(['--kv-type', 'fp8']), 2);
  } finally {
    console.error = error;
  }
  assert.match(errors.join('\n'), /--kv-type must be one of 'f16', 'q8_0', got 'fp8'/);
});

test('edge worker: config.kvType is checked when the handler is made (tests/edge runs q8_0 in workerd)', async () => {
  const { createWorkerHandler } = await import('../../web/edge/index.js');
  const wasmModule = await WebAssembly.compile(fs.readFileSync(path.join(ROOT, 'dist/mjs/wasmllm-st.wasm')));
  const model = new Uint8Array(fs.readFileSync(EMBEDDED));
  assert.doesNotThrow(() => createWorkerHandler({ model, wasmModule, kvType: 'q8_0' }));
  assert.throws(() => createWorkerHandler({ model, wasmModule, kvType: 'q4_0' }),
    (e) => e.code === 'ERR_BAD_ARG' && /config\.kvType must be one of 'f16', 'q8_0', got 'q4_0'/.test(e.message));
});
