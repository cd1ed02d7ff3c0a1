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
import { spawn, spawnSync } from 'node:child_process';
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

test('setup builds the relaxed pair only with --relaxed or --test (npm start needs no clang-19); npm pack builds it', async () => {
  const { setupSteps } = await import('../../tools/setup.js');
  const names = (flags) => setupSteps(new Set(flags)).map(([name]) => name);
  for (const flags of [[], ['--build-only'], ['--force']]) {
    assert.ok(names(flags).includes('wasm build'), flags.join(' '));
    assert.ok(!names(flags).includes('relaxed-SIMD wasm build'), flags.join(' '));
    assert.ok(!names(flags).includes('clang-19'), flags.join(' '));
  }
  for (const flags of [['--relaxed'], ['--test']]) {
    const steps = names(flags);
    assert.ok(steps.indexOf('clang-19') < steps.indexOf('relaxed-SIMD wasm build') && steps.includes('clang-19'), flags.join(' '));
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.scripts.start.split('&&')[0].trim(), 'node tools/setup.js');
  assert.match(pkg.scripts.prepack, /tools\/setup\.js --relaxed 1>&2/); // stderr: npm pack --json owns stdout
});

test('without the relaxed files: isa relaxed is ERR_WASM naming setup --relaxed, auto takes SIMD128 (Node 22)', { skip: !fs.existsSync(NODE22) && 'tests/ref/node22 is missing (node tools/setup.js --test)' }, () => {
  // A copy of the package's runtime with only the SIMD128 builds, as after a plain `npm start`.
  const dir = path.join(ROOT, 'test-artifacts', 'no-relaxed');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'web'), path.join(dir, 'web'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true, filter: (f) => !/-relaxed\./.test(f) });
  const file = tinyModel('relaxed-q4_0.gguf', MODELS[0][1]);
  const script = `
    import { loadModel } from ${JSON.stringify(path.join(dir, 'web/node/index.js'))};
    const out = {};
    try { await loadModel(${JSON.stringify(file)}, { threads: 1, isa: 'relaxed' }); out.relaxed = 'loaded'; }
    catch (e) { out.relaxed = { name: e.constructor.name, code: e.code, message: e.message }; }
    const m = await loadModel(${JSON.stringify(file)}, { threads: 1, contextSize: 64, isa: 'auto' });
    out.auto = m.info().wasmIsa;
    m.dispose();
    console.log(JSON.stringify(out));`;
  const r = spawnSync(NODE22, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(out.relaxed.name, 'WasmllmError');
  assert.equal(out.relaxed.code, 'ERR_WASM');
  assert.match(out.relaxed.message, /st-relaxed wasm build is missing .*node tools\/setup\.js --relaxed/);
  assert.equal(out.auto, 'simd128');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `wasmllm serve ...args` under `node` until it listens (resolves its first stdout line) or exits (rejects with stderr). */
function serveFirstLine(node, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [CLI, 'serve', '-q', '--port', '0', '-t', '1', ...args], { cwd: ROOT });
    let out = '', err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not start\n${err}`)); }, 60000);
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      child.kill('SIGTERM');
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (out.includes('\n')) resolve(out.split('\n')[0]);
      else reject(Object.assign(new Error(err), { code }));
    });
  });
}

test('chat and serve take --isa too: relaxed ERR_WASM under Node 20, a bad value ERR_BAD_ARG, auto relaxed under Node 22', async () => {
  const file = tinyModel('relaxed-q4_0.gguf', MODELS[0][1]);
  const chat = ['chat', '-m', file, '-n', '3', '--temperature', '0', '-v'];
  const refused = await runCli([...chat, '--isa', 'relaxed'], { input: 'Hello\n' });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /ERR_WASM: .*relaxed SIMD/);
  const bad = await runCli([...chat, '--isa', 'sse'], { input: 'Hello\n' });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /ERR_BAD_ARG: isa must be/);
  const plain = await runCli([...chat, '--isa', 'auto'], { input: 'Hello\n' });
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /wasm (mt|st) simd128/);

  await assert.rejects(serveFirstLine(process.execPath, ['-m', file, '--isa', 'relaxed']), (e) => /ERR_WASM: .*relaxed SIMD/.test(e.message));
  await assert.rejects(serveFirstLine(process.execPath, ['-m', file, '--isa', 'sse']), (e) => /ERR_BAD_ARG: isa must be/.test(e.message));
  assert.match(await serveFirstLine(process.execPath, ['-m', file, '--isa', 'auto']), /on http:.*wasm (mt|st) simd128\)$/);
  if (!fs.existsSync(NODE22)) return;
  const r = spawnSync(NODE22, [CLI, ...chat, '--isa', 'auto'], { cwd: ROOT, encoding: 'utf8', input: 'Hello\n', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /wasm (mt|st) relaxed/);
  assert.equal(r.stdout, plain.stdout, 'the same answer');
  assert.match(await serveFirstLine(NODE22, ['-m', file, '--isa', 'relaxed']), /on http:.*wasm (mt|st) relaxed\)$/);
});
