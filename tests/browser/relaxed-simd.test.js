/**
 * The relaxed-SIMD builds in real Chromium (which runs relaxed SIMD right):
 * isa 'auto' and 'relaxed' load them, threaded and single-threaded, the
 * default loads SIMD128, and all give the same greedy tokens, for Q4_0 and
 * Q4_K (the x16 kernels that use the relaxed dot) in the page's worker.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { skipReason, openDemoPage, fixtures } from './helpers.js';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { VOCAB_SPM } from '../node/runtime-fixtures.js';

const skip = skipReason() || false;
let demo, page;
const FILES = { Q4_0: { dim: 64, ffn: 128 }, Q4_K: { dim: 256, ffn: 512 } };

before(async () => {
  if (skip) return;
  for (const [type, dims] of Object.entries(FILES)) {
    buildSynthetic({ shape: 'tiny-gqa', type, layers: 2, seed: 5, vocab: VOCAB_SPM,
      overrides: { ...dims, heads: 4, kvHeads: 2, ctx: 512 } }).writer.write(path.join(fixtures(), `relaxed-${type}.gguf`));
  }
  demo = await openDemoPage();
  page = demo.page;
});

after(async () => {
  await demo?.close();
});

/** Greedy tokens and info() of a model loaded in the page with `options`. */
async function greedyInPage(url, options) {
  return page.evaluate(async ({ url, options }) => {
    const w = await import('/web/browser/index.js');
    const model = await w.loadModel(url, { contextSize: 128, ...options });
    const tokens = [];
    for await (const s of model.complete('The quick brown fox jumps over the lazy dog, and', { maxTokens: 8, temperature: 0 })) tokens.push(s.token);
    const info = model.info();
    model.dispose();
    return { tokens, isa: info.wasmIsa, variant: info.wasmVariant };
  }, { url, options });
}

test('Chromium: auto and relaxed load the relaxed builds (mt, st) with the SIMD128 build\'s tokens', { skip, timeout: 180_000 }, async () => {
  for (const type of Object.keys(FILES)) {
    const url = `/fx/relaxed-${type}.gguf`;
    const reference = await greedyInPage(url, { threads: 2 });
    assert.equal(reference.isa, 'simd128', type);
    assert.equal(reference.variant, 'mt', type);
    assert.ok(reference.tokens.length > 0, type);
    for (const options of [{ threads: 2, isa: 'auto' }, { threads: 2, isa: 'relaxed' }, { variant: 'st', isa: 'relaxed' }]) {
      const r = await greedyInPage(url, options);
      const what = `${type} ${JSON.stringify(options)}`;
      assert.equal(r.isa, 'relaxed', what);
      assert.equal(r.variant, options.variant ?? 'mt', what);
      assert.deepEqual(r.tokens, reference.tokens, what);
    }
  }
});
