#!/usr/bin/env node
/**
 * Deterministic random-weight embedding models (bert, nomic-bert) with the
 * keys and tensor names llama.cpp's converter writes, for the embedding
 * parity tests and benchmarks. The decoder architectures live in
 * make-synthetic.js; encoders differ enough (post-norm blocks with biases,
 * token-type and position embeddings, pooling_type, WordPiece vocab) to get
 * their own small builder.
 *
 *   node tools/make-synthetic-encoder.js --shape bge-tiny --type Q8_0 --out bge.gguf \
 *     [--vocab ggml-vocab-bert-bge.gguf] [--seed S] [--layers N] [--pooling 1|2|3]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GGUFWriter } from './gguf-writer.js';
import { gaussian, readVocab, tensorType } from './make-synthetic.js';
import { sharedPath } from './shared-data.js';

export const BERT_VOCAB = sharedPath('data', 'vocab', 'ggml-vocab-bert-bge.gguf');

/** llama.cpp's general.file_type numbers (LLAMA_FTYPE_*) for the plain types. */
const FILE_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, BF16: 32 };

/** pooling_type values (llama.cpp's LLAMA_POOLING_TYPE_*). */
export const POOLING = { mean: 1, cls: 2, last: 3 };

/**
 * Named shapes. The full-size ones copy the Hugging Face configs (bge-small-en-v1.5,
 * all-MiniLM-L6-v2, nomic-embed-text-v1.5) for benchmarks; the tiny ones keep the
 * real structure with small dims for tests. bge pools the CLS token, MiniLM and
 * nomic take the mean.
 */
export const ENCODER_SHAPES = {
  'bge-tiny': { arch: 'bert', dim: 128, layers: 3, heads: 4, ffn: 512, ctx: 512, pooling: POOLING.cls },
  'minilm-tiny': { arch: 'bert', dim: 128, layers: 3, heads: 4, ffn: 512, ctx: 512, pooling: POOLING.mean },
  'nomic-tiny': { arch: 'nomic-bert', dim: 128, layers: 3, heads: 4, ffn: 512, ctx: 2048, pooling: POOLING.mean, ropeBase: 1000 },
  'bge-small': { arch: 'bert', dim: 384, layers: 12, heads: 12, ffn: 1536, ctx: 512, pooling: POOLING.cls },
  'all-minilm-l6': { arch: 'bert', dim: 384, layers: 6, heads: 12, ffn: 1536, ctx: 512, pooling: POOLING.mean },
  'nomic-embed-v1.5': { arch: 'nomic-bert', dim: 768, layers: 12, heads: 12, ffn: 3072, ctx: 2048, pooling: POOLING.mean, ropeBase: 1000 },
};

/**
 * The tensor list of one encoder: [name, shape (GGUF order), { std, mean }].
 * q/k get gain 2 so attention is sharp enough that token order matters;
 * post-norm blocks keep the residual stream at unit scale whatever the gains.
 */
function encoderTensors(cfg) {
  const { dim, ffn } = cfg;
  const nomic = cfg.arch === 'nomic-bert';
  const mat = (fanIn, gain = 1) => ({ std: gain / Math.sqrt(fanIn) });
  const norm = { std: 0.1, mean: 1 };
  const bias = { std: 0.1 };
  const list = [
    ['token_embd.weight', [dim, cfg.vocab], { std: 1 }],
    ['token_types.weight', [dim, cfg.typeCount], { std: 0.5 }],
  ];
  // bert has learned absolute positions; nomic-bert uses RoPE instead.
  if (!nomic) list.push(['position_embd.weight', [dim, cfg.ctx], { std: 0.5 }]);
  list.push(['token_embd_norm.weight', [dim], norm], ['token_embd_norm.bias', [dim], bias]);
  for (let l = 0; l < cfg.layers; l++) {
    const b = `blk.${l}.`;
    if (nomic) {
      list.push([`${b}attn_qkv.weight`, [dim, 3 * dim], mat(dim, 2)]);
    } else {
      for (const p of ['q', 'k', 'v']) {
        list.push([`${b}attn_${p}.weight`, [dim, dim], mat(dim, p === 'v' ? 1 : 2)], [`${b}attn_${p}.bias`, [dim], bias]);
      }
    }
    list.push([`${b}attn_output.weight`, [dim, dim], mat(dim)]);
    if (!nomic) list.push([`${b}attn_output.bias`, [dim], bias]);
    list.push([`${b}attn_output_norm.weight`, [dim], norm], [`${b}attn_output_norm.bias`, [dim], bias]);
    if (nomic) {
      // SwiGLU: silu(gate) * up.
      list.push([`${b}ffn_gate.weight`, [dim, ffn], mat(dim)], [`${b}ffn_up.weight`, [dim, ffn], mat(dim)]);
      list.push([`${b}ffn_down.weight`, [ffn, dim], mat(ffn)]);
    } else {
      list.push([`${b}ffn_up.weight`, [dim, ffn], mat(dim)], [`${b}ffn_up.bias`, [ffn], bias]);
      list.push([`${b}ffn_down.weight`, [ffn, dim], mat(ffn)], [`${b}ffn_down.bias`, [dim], bias]);
    }
    list.push([`${b}layer_output_norm.weight`, [dim], norm], [`${b}layer_output_norm.bias`, [dim], bias]);
  }
  return list;
}

/** The metadata keys llama.cpp reads for bert / nomic-bert. */
function encoderKeys(w, cfg) {
  const a = cfg.arch;
  w.addU32(`${a}.context_length`, cfg.ctx);
  w.addU32(`${a}.embedding_length`, cfg.dim);
  w.addU32(`${a}.block_count`, cfg.layers);
  w.addU32(`${a}.feed_forward_length`, cfg.ffn);
  w.addU32(`${a}.attention.head_count`, cfg.heads);
  w.addF32(`${a}.attention.layer_norm_epsilon`, 1e-12);
  w.addBool(`${a}.attention.causal`, false);
  if (cfg.pooling !== undefined) w.addU32(`${a}.pooling_type`, cfg.pooling);
  if (a === 'nomic-bert') w.addF32(`${a}.rope.freq_base`, cfg.ropeBase);
}

/**
 * @param {{ shape?: string, type?: string, vocab?: string, seed?: number, layers?: number,
 *   pooling?: number | null }} options  pooling null: write no pooling_type key
 * @returns {{ writer: GGUFWriter, cfg: object }}
 */
export function buildEncoderSynthetic(options = {}) {
  const shapeName = options.shape ?? 'bge-tiny';
  const base = ENCODER_SHAPES[shapeName];
  if (!base) throw new Error(`make-synthetic-encoder: unknown shape ${shapeName} (have ${Object.keys(ENCODER_SHAPES).join(', ')})`);
  const vocabHeader = readVocab(options.vocab ?? BERT_VOCAB);
  const tokens = vocabHeader.metadata.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new Error(`make-synthetic-encoder: ${options.vocab} has no tokenizer.ggml.tokens`);
  const cfg = {
    ...base, shape: shapeName, type: (options.type ?? 'F32').toUpperCase(), seed: options.seed ?? 1, vocab: tokens.length,
    typeCount: Number(vocabHeader.metadata.get('tokenizer.ggml.token_type_count') ?? 2),
    ...(options.layers ? { layers: options.layers } : {}),
    ...(options.pooling !== undefined ? { pooling: options.pooling ?? undefined } : {}),
  };
  const w = new GGUFWriter();
  w.addString('general.architecture', cfg.arch);
  w.addString('general.name', `synthetic-${cfg.shape}-${cfg.type}-s${cfg.seed}`);
  if (FILE_TYPE[cfg.type] !== undefined) w.addU32('general.file_type', FILE_TYPE[cfg.type]);
  w.addU32('general.quantization_version', 2);
  encoderKeys(w, cfg);
  w.copyKVs(vocabHeader, (k) => k.startsWith('tokenizer.'));
  for (const [name, shape, init] of encoderTensors(cfg)) {
    const n = shape.reduce((x, y) => x * y, 1);
    // token_types stays F32 as in converted files: llama.cpp adds its row to the embeddings directly.
    const t = shape.length >= 2 && name !== 'token_types.weight' ? tensorType(cfg.type, name, shape[0], cfg.layers) : 'F32';
    w.addTensor(name, t, shape, () => gaussian(n, cfg.seed, name, init.std, init.mean ?? 0));
  }
  return { writer: w, cfg };
}

/** Writes one encoder model to `options.out`. */
export function makeEncoderSynthetic(options) {
  if (!options.out) throw new Error('make-synthetic-encoder: --out is required');
  const { writer, cfg } = buildEncoderSynthetic(options);
  fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
  writer.write(options.out);
  return { path: options.out, cfg };
}

function parseArgs(argv) {
  const opts = {};
  const num = new Set(['seed', 'layers', 'pooling']);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m) throw new Error(`make-synthetic-encoder: unexpected argument ${argv[i]}`);
    if (m[1] === 'help') { opts.help = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`make-synthetic-encoder: --${m[1]} needs a value`);
    opts[m[1]] = num.has(m[1]) ? Number(v) : v;
  }
  return opts;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.help || !opts.out) {
      console.log(`usage: node tools/make-synthetic-encoder.js --out FILE.gguf [--shape ${Object.keys(ENCODER_SHAPES).join('|')}]
       [--type F32|F16|Q8_0|Q4_0|...] [--vocab VOCAB.gguf] [--seed S] [--layers N] [--pooling 1|2|3]`);
      process.exit(opts.help ? 0 : 2);
    }
    const { path: out, cfg } = makeEncoderSynthetic(opts);
    console.log(`${out}: ${cfg.arch} ${cfg.shape} ${cfg.type}, ${cfg.layers} layers, dim ${cfg.dim}, pooling ${cfg.pooling ?? 'none'}, ${(fs.statSync(out).size / 1e6).toFixed(1)} MB`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
