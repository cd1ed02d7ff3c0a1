/**
 * Small GGUF files for the runtime tests (api, cli, bad-input), written once
 * per process into a temp folder with tools/make-synthetic.js and
 * tools/gguf-writer.js. Tiny shapes keep every test fast.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildSynthetic } from '../../tools/make-synthetic.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'web/cli.js');
export const VOCAB_SPM = path.resolve(ROOT, '../shared/data/vocab/ggml-vocab-llama-spm.gguf');
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
