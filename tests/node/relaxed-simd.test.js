// The relaxed-SIMD builds and their choice at run time (web/wasm-loader.js,
// web/simd-probe.js). Node 20, which runs these tests, has no working relaxed
// SIMD: isa 'auto' must give it the SIMD128 build. Node 22 (tests/ref/node22,
// a test-only reference that setup --test fetches) must get the relaxed one
// for 'auto' and 'relaxed', threaded and single-threaded, SIMD128 by default,
// and generate exactly the same tokens, for Q4_0 and Q4_K (whose x16 kernels
// use the relaxed dot) and Q8_0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadModel, WasmllmError } from '../../web/node/index.js';
import { relaxedSimdWorks } from '../../web/simd-probe.js';
import { CLI, ROOT, runCli, tinyModel } from './runtime-fixtures.js';

const NODE22 = path.join(ROOT, 'tests/ref/node22/bin/node');
const PROMPT = 'The quick brown fox jumps over the lazy dog, and then';
const GREEDY = { maxTokens: 10, temperature: 0, seed: 1 };

// Rows of 64 (Q4_0, Q8_0) and 256 (Q4_K) elements, 16 and more rows: x16 groups and their tails.
const MODELS = [
  ['Q4_0', { type: 'Q4_0' }],
  ['Q8_0', { type: 'Q8_0' }],
  ['Q4_K', { type: 'Q4_K', overrides: { dim: 256, ffn: 512, heads: 4, kvHeads: 2 } }],
];

/** Greedy tokens and the build's isa for each model under `node`, loaded as `loads` say. */
function runUnder(node, files, loads) {
  const script = `
    import { loadModel } from ${JSON.stringify(path.join(ROOT, 'web/node/index.js'))};
    const out = [];
    for (const file of ${JSON.stringify(files)}) {
      for (const options of ${JSON.stringify(loads)}) {
        const model = await loadModel(file, { contextSize: 128, ...options });
        const tokens = [];
        for await (const s of model.complete(${JSON.stringify(PROMPT)}, ${JSON.stringify(GREEDY)})) if (s.token >= 0) tokens.push(s.token);
        const i = model.info();
        out.push({ file, options, isa: i.wasmIsa, variant: i.wasmVariant, tokens });
        model.dispose();
      }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(node, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, `${node} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('Node 20 fails the probe and gets the SIMD128 build for auto; forcing relaxed is ERR_WASM', async () => {
  assert.equal(relaxedSimdWorks(), false);
  const file = tinyModel('relaxed-q4_0.gguf', MODELS[0][1]);
  for (const isa of [undefined, 'auto', 'simd128']) {
    const model = await loadModel(file, { threads: 1, contextSize: 64, isa });
    try {
      assert.equal(model.info().wasmIsa, 'simd128', `isa ${isa}`);
    } finally {
      model.dispose();
    }
  }
  await assert.rejects(loadModel(file, { threads: 1, isa: 'relaxed' }), (e) => e instanceof WasmllmError && e.code === 'ERR_WASM' && /relaxed/.test(e.message));
  await assert.rejects(loadModel(file, { threads: 1, isa: 'avx' }), (e) => e instanceof WasmllmError && e.code === 'ERR_BAD_ARG' && /isa/.test(e.message));
});

test('Node 22 gets the relaxed builds (mt and st) for auto and relaxed, SIMD128 by default, with the same tokens as SIMD128 under Node 20', { skip: !fs.existsSync(NODE22) && 'tests/ref/node22 is missing (node tools/setup.js --test)' }, async () => {
  const files = MODELS.map(([name, changes]) => tinyModel(`relaxed-${name}.gguf`, changes));
  const reference = runUnder(process.execPath, files, [{ threads: 1 }]);
  for (const r of reference) assert.equal(r.isa, 'simd128');
  const loads = [{ threads: 1, isa: 'auto' }, { threads: 2, isa: 'relaxed' }, { threads: 2 }];
  const runs = runUnder(NODE22, files, loads);
  assert.equal(runs.length, files.length * loads.length);
  for (const r of runs) {
    const ref = reference.find((x) => x.file === r.file);
    const what = `${path.basename(r.file)} ${JSON.stringify(r.options)}`;
    assert.equal(r.isa, r.options.isa ? 'relaxed' : 'simd128', what);
    assert.equal(r.variant, r.options.threads > 1 ? 'mt' : 'st', what);
    assert.ok(ref.tokens.length > 0, what);
    assert.deepEqual(r.tokens, ref.tokens, what);
  }
});

test('CLI --isa: relaxed is ERR_WASM under Node 20, a bad value ERR_BAD_ARG, auto runs relaxed under Node 22', async () => {
  const file = tinyModel('relaxed-q4_0.gguf', MODELS[0][1]);
  const args = ['complete', '-m', file, '-p', 'Hello', '--max-tokens', '3', '--temperature', '0', '-v'];
  const refused = await runCli([...args, '--isa', 'relaxed']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /ERR_WASM: .*relaxed SIMD/);
  const bad = await runCli([...args, '--isa', 'sse']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /ERR_BAD_ARG: isa must be/);
  const plain = await runCli([...args, '--isa', 'auto']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /wasm (mt|st) simd128/);
  if (!fs.existsSync(NODE22)) return;
  const r = spawnSync(NODE22, [CLI, ...args, '--isa', 'auto'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /wasm (mt|st) relaxed/);
  assert.equal(r.stdout, plain.stdout, 'the same completion');
});
