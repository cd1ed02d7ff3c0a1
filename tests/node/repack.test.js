// Weights rearranged at load (wl_model_prepare, the x4 layout) must not
// change a single logit: the same file loaded with the rearrangement
// deferred (plain layout) and done (x4) gives bit-identical logits along a
// greedy run, for every type that is rearranged, with tied and untied
// embeddings (a tied output is token_embd: its row lookups read the x4
// layout too), and when the deferred model is prepared between decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PREPARE_WEIGHTS } from '../../web/model.js';
import { loadWithLogits, tinyModel } from './runtime-fixtures.js';

/** The st build with a logits reader; a 128-token context. */
const load = (file, options = {}) => loadWithLogits(file, { contextSize: 128, ...options });

async function drain(it) {
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Logits after each of `steps` teacher-forced greedy steps; `between(i)` runs before step i. */
async function logitsAlong({ model, logits }, prompt, tokens, between = () => {}) {
  const rows = [];
  for (let i = 0; i <= tokens.length; i++) {
    between(i);
    await drain(model.complete([...prompt, ...tokens.slice(0, i)], { maxTokens: 1, temperature: 0 }));
    rows.push(logits());
  }
  return rows;
}

const PROMPT = [1, 450, 4996, 17354, 1701, 432, 17204, 975, 278, 17366, 11203];

// K-quants need rows of whole 256-value super-blocks; Q4_K_M mixes Q4_K with Q6_K.
const K_SHAPE = { dim: 256, ffn: 512, heads: 4, kvHeads: 2 };
for (const type of ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'IQ4_NL', 'Q4_K', 'Q5_K', 'Q6_K', 'Q4_K_M']) {
  for (const tied of [false, true]) {
    test(`${type}${tied ? ', tied embeddings' : ''}: the x4 layout gives the plain layout's logits bit for bit`, async () => {
      // (matrices whose row count is not a multiple of 4, which keep a plain tail, are test_matmul's)
      const overrides = type.includes('_K') ? K_SHAPE : { dim: 96, ffn: 160, heads: 6, kvHeads: 3 };
      const file = tinyModel(`repack-${type}-${tied}.gguf`, { type, tied, overrides });
      const plain = await load(file, { deferPrepare: true });
      const x4 = await load(file);
      try {
        assert.equal(plain.model.info().repackedMatrices, 0);
        const n = x4.model.info().repackedMatrices;
        assert.ok(n > 0, `${type}: no matrix was rearranged`);
        const ref = await drain(plain.model.complete(PROMPT, { maxTokens: 6, temperature: 0 }));
        const tokens = ref.tokens;
        const a = await logitsAlong(plain, PROMPT, tokens);
        const b = await logitsAlong(x4, PROMPT, tokens);
        for (let i = 0; i < a.length; i++) {
          assert.deepEqual(b[i], a[i], `${type} step ${i}: logits differ`);
          if (i < tokens.length) assert.equal(argmax(a[i]), tokens[i]);
        }
        // Prepared between two decodes of a live session: still the same logits.
        const c = await logitsAlong(plain, PROMPT, tokens, (i) => { if (i === 3) plain.model[PREPARE_WEIGHTS](); });
        assert.equal(plain.model.info().repackedMatrices, n);
        for (let i = 0; i < a.length; i++) assert.deepEqual(c[i], a[i], `${type} step ${i} after a late prepare`);
      } finally {
        plain.model.dispose();
        x4.model.dispose();
      }
    });
  }
}

test('types without an x4 kernel are left as they are', async () => {
  const file = tinyModel('repack-Q3_K.gguf', { type: 'Q3_K', overrides: K_SHAPE });
  const { model } = await load(file);
  try {
    const info = model.info();
    // Q3_K layers stay plain; only x4-type matrices (none here unless the file adds them) are rearranged.
    const x4Types = ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'IQ4_NL', 'Q4_K', 'Q5_K', 'Q6_K']
      .reduce((n, t) => n + (info.tensorTypes[t] ?? 0), 0);
    assert.ok(info.repackedMatrices <= x4Types, `${info.repackedMatrices} rearranged, ${x4Types} x4-type tensors`);
    assert.ok(info.tensorTypes.Q3_K > 0);
  } finally {
    model.dispose();
  }
});
