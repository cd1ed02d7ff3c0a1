#!/usr/bin/env node
/**
 * Builds deterministic random-weight GGUF models with the shapes of real
 * ones, for parity tests and benchmarks (no downloads needed).
 *
 *   node tools/make-synthetic.js --arch llama --shape smollm2-135m --type Q4_0 \
 *     --vocab /work/shared/data/vocab/ggml-vocab-llama-spm.gguf --out model.gguf \
 *     [--layers N] [--seed S] [--split N] [--rope-base B] [--ctx N]
 *
 * Weight scales are chosen so greedy decoding is decisive (the top logit
 * usually leads the next by far more than rounding noise) without looping
 * on one token: embeddings and norms O(1), matrices N(0, gain/sqrt(fan_in)).
 * Each tensor has its own PRNG stream seeded from (seed, name), so a tensor's
 * values do not depend on which other tensors exist or their order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GGUFWriter, VT } from './gguf-writer.js';
import { FORMATS, encode, decode } from './quantize.js';
import { parseGGUF } from '../web/gguf.js';
import { sharedPath } from './shared-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

/**
 * @typedef {{ arch: string, dim: number, layers: number, heads: number, kvHeads: number, ffn: number,
 *   headDim?: number, ropeBase: number, rmsEps: number, ctx: number, tied: boolean,
 *   llama3Rope?: { factor: number, lowFreqFactor: number, highFreqFactor: number, originalCtx: number } }} ShapeConfig
 */

/**
 * Named shapes. Real models' values come from their Hugging Face configs.
 * `tiny-gqa` uses ffn 768 (not 688) so every row is a whole number of
 * 256-value K-quant blocks and all encoders apply.
 * @type {Record<string, ShapeConfig>}
 */
export const SHAPES = {
  'tiny-gqa': { arch: 'llama', dim: 256, layers: 4, heads: 8, kvHeads: 2, ffn: 768, ropeBase: 10000, rmsEps: 1e-5, ctx: 2048, tied: false },
  // llama2.c stories15M geometry with GQA; replaced by models/shakespeare.gguf's own shape when present.
  embedded: { arch: 'llama', dim: 288, layers: 6, heads: 6, kvHeads: 2, ffn: 768, ropeBase: 10000, rmsEps: 1e-5, ctx: 1024, tied: true },
  'smollm2-135m': { arch: 'llama', dim: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, ropeBase: 100000, rmsEps: 1e-5, ctx: 8192, tied: true },
  'qwen2.5-0.5b': { arch: 'qwen2', dim: 896, layers: 24, heads: 14, kvHeads: 2, ffn: 4864, ropeBase: 1000000, rmsEps: 1e-6, ctx: 32768, tied: true },
  'llama-3.2-1b': {
    arch: 'llama', dim: 2048, layers: 16, heads: 32, kvHeads: 8, ffn: 8192, ropeBase: 500000, rmsEps: 1e-5, ctx: 131072, tied: true,
    llama3Rope: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalCtx: 8192 },
  },
  // Granite 3.0 1B-A400M: 32 experts of 512, 8 used per token (1.3B weights, ~0.43B active).
  'granite-moe-1b-a400m': {
    arch: 'granitemoe', dim: 1024, layers: 24, heads: 16, kvHeads: 8, ffn: 512, ffnExp: 512, nExpert: 32, nExpertUsed: 8, ffnShexp: 0,
    ropeBase: 10000, rmsEps: 1e-6, ctx: 4096, tied: true, embeddingScale: 12, residualScale: 0.22, attentionScale: 0.015625, logitScale: 6,
  },
  // Its active parameters as a dense model: the same attention, one FFN of 8 x 512 rows.
  'granite-moe-1b-a400m-dense': { arch: 'llama', dim: 1024, layers: 24, heads: 16, kvHeads: 8, ffn: 4096, ropeBase: 10000, rmsEps: 1e-6, ctx: 4096, tied: true },
  // LFM2-350M: 10 short-convolution layers and 6 attention layers (2, 5, 8, 10, 12, 14).
  'lfm2-350m': {
    arch: 'lfm2', dim: 1024, layers: 16, heads: 16, kvHeads: 8, ffn: 4608, attnLayers: [2, 5, 8, 10, 12, 14], lCache: 3,
    ropeBase: 1000000, rmsEps: 1e-5, ctx: 128000, tied: true,
  },
  // The same with convolutions only (bench/hybrid.js: their decode cost alone) and with attention only.
  'lfm2-350m-conv': {
    arch: 'lfm2', dim: 1024, layers: 16, heads: 16, kvHeads: 8, ffn: 4608, attnLayers: [], lCache: 3,
    ropeBase: 1000000, rmsEps: 1e-5, ctx: 128000, tied: true,
  },
  'lfm2-350m-llama': { arch: 'llama', dim: 1024, layers: 16, heads: 16, kvHeads: 8, ffn: 4608, ropeBase: 1000000, rmsEps: 1e-5, ctx: 128000, tied: true },
  // Granite-4.0-H-350M-like (bench/hybrid.js): 32 layers of width 768, 4 of them attention (our
  // placement), Mamba-2 mixers of 48 heads of 32 with 128 states in one group, SwiGLU FFNs of 2048,
  // no RoPE. An approximation of the real config, for decode cost against context length.
  'granite-4.0-h-350m': {
    arch: 'granitehybrid', dim: 768, layers: 32, heads: 12, kvHeads: 4, ffn: 2048, attnLayers: [7, 15, 23, 31],
    ssm: { dInner: 1536, dState: 128, nHead: 48, nGroup: 1, dConv: 4 }, rope: false, nExpert: 0,
    embeddingScale: 12, residualScale: 0.25, attentionScale: 0.0078125, logitScale: 3,
    ropeBase: 10000, rmsEps: 1e-5, ctx: 32768, tied: true,
  },
  // The same with Mamba-2 layers only, and a llama of the same size with attention only.
  'granite-4.0-h-350m-ssm': {
    arch: 'granitehybrid', dim: 768, layers: 32, heads: 12, kvHeads: 4, ffn: 2048, attnLayers: [],
    ssm: { dInner: 1536, dState: 128, nHead: 48, nGroup: 1, dConv: 4 }, rope: false, nExpert: 0,
    embeddingScale: 12, residualScale: 0.25, attentionScale: 0.0078125, logitScale: 3,
    ropeBase: 10000, rmsEps: 1e-5, ctx: 32768, tied: true,
  },
  'granite-4.0-h-350m-llama': { arch: 'llama', dim: 768, layers: 32, heads: 12, kvHeads: 4, ffn: 2048, ropeBase: 10000, rmsEps: 1e-5, ctx: 32768, tied: true },
};

/** Reads the `embedded` shape from models/shakespeare.gguf when that file exists. */
function embeddedShape() {
  const file = path.join(repoRoot, 'models', 'shakespeare.gguf');
  if (!fs.existsSync(file)) return SHAPES.embedded;
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const prefix = Buffer.alloc(Math.min(size, 8 << 20));
    fs.readSync(fd, prefix, 0, prefix.length, 0);
    const h = parseGGUF(new Uint8Array(prefix.buffer, prefix.byteOffset, prefix.length), { totalSize: size, allowNoData: true });
    const a = h.metadata.get('general.architecture');
    const m = (k, d) => h.metadata.get(`${a}.${k}`) ?? d;
    return {
      arch: a, dim: m('embedding_length'), layers: m('block_count'), heads: m('attention.head_count'),
      kvHeads: m('attention.head_count_kv', m('attention.head_count')), ffn: m('feed_forward_length'),
      ropeBase: m('rope.freq_base', 10000), rmsEps: m('attention.layer_norm_rms_epsilon', 1e-5),
      ctx: m('context_length', 1024), tied: !h.tensors.some((t) => t.name === 'output.weight'),
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** llama.cpp's general.file_type numbers (LLAMA_FTYPE_*). */
const FILE_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q2_K: 10, Q3_K: 12, Q4_K: 15, Q4_K_M: 15, Q5_K: 17, Q6_K: 18, IQ4_NL: 25, IQ4_XS: 30, BF16: 32 };

/** Which type replaces a 256-block type on rows that are not a multiple of 256 (as llama-quantize does). */
const FALLBACK = { Q2_K: 'IQ4_NL', Q3_K: 'IQ4_NL', IQ4_XS: 'IQ4_NL', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };

/**
 * The type a weight matrix gets under `type`, which is a ggml type name or
 * the mix 'Q4_K_M' (Q4_K, with attn_v/ffn_down of some layers and the
 * output in Q6_K, like llama-quantize's rule). With tied embeddings
 * llama-quantize gives token_embd the output's type, since it is the output.
 * @param {string} type @param {string} name @param {number} rowLen @param {number} nLayers
 * @param {boolean} [tied] the model has no output.weight
 */
export function tensorType(type, name, rowLen, nLayers, tied = false) {
  let t = type;
  if (type === 'Q4_K_M') {
    const layer = Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);
    const moreBits = layer >= 0 && (layer < nLayers / 8 || layer >= (7 * nLayers) / 8 || (layer - Math.floor(nLayers / 8)) % 3 === 2);
    const isOutput = name === 'output.weight' || (tied && name === 'token_embd.weight');
    if (isOutput || ((name.endsWith('attn_v.weight') || name.endsWith('ffn_down.weight')) && moreBits)) t = 'Q6_K';
    else t = 'Q4_K';
  }
  const fmt = FORMATS[t];
  if (!fmt) throw new Error(`make-synthetic: unknown tensor type ${type}`);
  if (rowLen % fmt.blockSize !== 0) t = FALLBACK[t] ?? t;
  if (rowLen % FORMATS[t].blockSize !== 0) t = 'F16';
  return t;
}

// ------------------------------------------------------------ randomness

/** 32-bit FNV-1a of a string, to derive per-tensor seeds. */
function hashString(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for weights. Returns floats in (0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** n values of mean + std * N(0,1), Box-Muller, from stream (seed, name). */
export function gaussian(n, seed, name, std = 1, mean = 0) {
  const rand = mulberry32(hashString(name) ^ Math.imul(seed, 0x9e3779b9));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rand()));
    const th = 2 * Math.PI * rand();
    out[i] = mean + std * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(th);
  }
  return out;
}

/** llama3 rope frequency divisors (what convert_hf_to_gguf stores as rope_freqs.weight). */
function llama3RopeFactors(headDim, base, s) {
  const lowWavelen = s.originalCtx / s.lowFreqFactor;
  const highWavelen = s.originalCtx / s.highFreqFactor;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) {
    const freq = base ** (-(2 * i) / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.originalCtx / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

// ------------------------------------------------------------ architectures

/**
 * Weight gains. Why these: logits must spread widely (greedy ties are rare),
 * yet the network must not be chaotic: quantized matmuls round activations
 * to int8, so two correct runtimes whose floats differ in the last bits
 * flip a few roundings, and sharp attention or loud layers amplify those
 * flips into different tokens (with q/k gain 2 and layer gains 3-4, Q8_0
 * runs of llama.cpp and wasmllm disagreed at logit gaps of 1-2).
 * With tied embeddings the current token's own embedding sits in the
 * residual stream and would win every step, and deep stacks of mild layers
 * settle into one state (either way the model repeats one token): tied
 * models get smaller embeddings, sharper attention and louder layers
 * (SmolLM2-135M shape: 60-64 distinct tokens in 64, versus 5-42 with
 * milder gains). They are the more chaotic ones: use untied (tied: false)
 * variants when quantized parity matters.
 * Tuned with llama.cpp (tests/parity/oracle.js reports the top-1/top-2 gaps).
 */
const DEFAULT_GAINS = { embed: 1, qk: 1, attnOut: 1, ffnDown: 1, output: 16, postNorm: 1 };
const TIED_GAINS = { embed: 0.5, qk: 2, attnOut: 3, ffnDown: 4 };
const GEMMA_GAINS = { embed: 0.5, qk: 2, attnOut: 30, ffnDown: 40, postNorm: 20 };

/**
 * Per-architecture tensor list: [name, shape (GGUF order), init, type?] where init
 * is { std, mean } for gaussian values, or a function returning the values,
 * and type (optional) fixes the tensor's type whatever the file's type is.
 * Matrix gains were tuned against llama.cpp so greedy runs are decisive.
 */
function llamaLikeTensors(cfg, feat = {}) {
  const { dim, ffn, heads, kvHeads } = cfg;
  const hd = cfg.headDim ?? dim / heads;
  const qDim = heads * hd, kvDim = kvHeads * hd;
  const g = { ...DEFAULT_GAINS, ...(cfg.tied ? TIED_GAINS : {}), ...feat.gains, ...cfg.gains };
  const mat = (fanIn, gain = 1) => ({ std: gain / Math.sqrt(fanIn) });
  const norm = { std: 0.1, mean: 1 };
  // Post-norms set the size of what each layer adds to the residual stream.
  const postNorm = { std: 0.1 * g.postNorm, mean: g.postNorm };
  const list = [['token_embd.weight', [dim, cfg.vocab], { std: g.embed }]];
  for (let l = 0; l < cfg.layers; l++) {
    const b = `blk.${l}.`;
    list.push([`${b}attn_norm.weight`, [dim], norm]);
    if (feat.fusedQkv) {
      // phi3: one matrix whose output is q, then k, then v.
      list.push([`${b}attn_qkv.weight`, [dim, qDim + 2 * kvDim], mat(dim, g.qk)]);
    } else {
      list.push(
        [`${b}attn_q.weight`, [dim, qDim], mat(dim, g.qk)],
        [`${b}attn_k.weight`, [dim, kvDim], mat(dim, g.qk)],
        [`${b}attn_v.weight`, [dim, kvDim], mat(dim)],
      );
    }
    if (feat.qkvBias) {
      list.push(
        [`${b}attn_q.bias`, [qDim], { std: 0.1 }],
        [`${b}attn_k.bias`, [kvDim], { std: 0.1 }],
        [`${b}attn_v.bias`, [kvDim], { std: 0.1 }],
      );
    }
    if (feat.qkNorm) {
      // qwen3, gemma3: RMSNorm over each head's q and k (weights shared by heads).
      list.push([`${b}attn_q_norm.weight`, [hd], norm], [`${b}attn_k_norm.weight`, [hd], norm]);
    }
    if (feat.qkNormWhole) {
      // olmoe: RMSNorm over the whole q and k projections.
      list.push([`${b}attn_q_norm.weight`, [qDim], norm], [`${b}attn_k_norm.weight`, [kvDim], norm]);
    }
    list.push([`${b}attn_output.weight`, [qDim, dim], mat(qDim, g.attnOut)]);
    if (feat.postNorms) list.push([`${b}post_attention_norm.weight`, [dim], postNorm]);
    list.push([`${b}ffn_norm.weight`, [dim], norm]);
    if (feat.moe) {
      list.push(...moeTensors(cfg, b, g, mat));
      continue;
    }
    if (feat.fusedGateUp) {
      // phi3: one matrix whose output is gate then up (the graph splits it for SwiGLU).
      list.push([`${b}ffn_up.weight`, [dim, 2 * ffn], mat(dim)]);
    } else {
      list.push([`${b}ffn_gate.weight`, [dim, ffn], mat(dim)], [`${b}ffn_up.weight`, [dim, ffn], mat(dim)]);
    }
    list.push([`${b}ffn_down.weight`, [ffn, dim], mat(ffn, g.ffnDown)]);
    if (feat.postNorms) list.push([`${b}post_ffw_norm.weight`, [dim], postNorm]);
  }
  list.push(['output_norm.weight', [dim], norm]);
  if (!cfg.tied) list.push(['output.weight', [dim, cfg.vocab], mat(dim, g.output)]);
  if (cfg.llama3Rope) list.push(['rope_freqs.weight', [hd / 2], () => llama3RopeFactors(hd, cfg.ropeBase, cfg.llama3Rope)]);
  return list;
}

/**
 * A mixture-of-experts FFN: the router (one row per expert; llama-quantize
 * keeps it F32, and so do we), every expert's gate/up/down stacked in 3-D
 * tensors, and an optional shared expert. Router gain 2 spreads the experts'
 * scores so the top-k choice is rarely a near-tie (at gain 0.5 smallthinker's
 * sigmoid router met one that F32 rounding flipped).
 */
function moeTensors(cfg, b, g, mat) {
  const { dim, nExpert, ffnExp, ffnShexp } = cfg;
  const list = [
    [`${b}ffn_gate_inp.weight`, [dim, nExpert], mat(dim, 2), 'F32'],
    [`${b}ffn_gate_exps.weight`, [dim, ffnExp, nExpert], mat(dim)],
    [`${b}ffn_up_exps.weight`, [dim, ffnExp, nExpert], mat(dim)],
    [`${b}ffn_down_exps.weight`, [ffnExp, dim, nExpert], mat(ffnExp, g.ffnDown)],
  ];
  if (ffnShexp) {
    list.push(
      [`${b}ffn_gate_shexp.weight`, [dim, ffnShexp], mat(dim)],
      [`${b}ffn_up_shexp.weight`, [dim, ffnShexp], mat(dim)],
      [`${b}ffn_down_shexp.weight`, [ffnShexp, dim], mat(ffnShexp, g.ffnDown)],
    );
  }
  return list;
}

/**
 * LFM2: llama-like layers with per-head q/k norms where `attnLayers` lists the
 * attention layers; every other layer's token mixer is a gated short
 * convolution (in_proj to B, C, x; `lCache` depthwise taps, which llama.cpp
 * reads as F32; out_proj). The final norm is named token_embd_norm.
 */
function lfm2Tensors(cfg) {
  const { dim } = cfg;
  const attn = /^blk\.\d+\.attn_(q|k|v|q_norm|k_norm|output)\.weight$/;
  const mat = (fanIn, gain = 1) => ({ std: gain / Math.sqrt(fanIn) });
  const list = [];
  for (const entry of llamaLikeTensors(cfg, { qkNorm: true })) {
    const [name] = entry;
    const layer = Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);
    if (name === 'output_norm.weight') list.push(['token_embd_norm.weight', ...entry.slice(1)]);
    else if (layer < 0 || cfg.attnLayers.includes(layer) || !attn.test(name)) list.push(entry);
    else if (name.endsWith('attn_q.weight')) {
      const b = `blk.${layer}.shortconv.`;
      list.push(
        [`${b}in_proj.weight`, [dim, 3 * dim], mat(dim)],
        [`${b}conv.weight`, [cfg.lCache, dim], { std: 0.5 }, 'F32'],
        [`${b}out_proj.weight`, [dim, dim], mat(dim)],
      );
    }
  }
  return list;
}

/**
 * LFM2-MoE: LFM2's layers with a dense FFN in the first `denseLead` layers and a
 * mixture of experts in the rest, each with its expert bias (exp_probs_b, F32 like
 * every vector): std 0.1 (biasStd) against sigmoid probabilities in (0, 1), so it
 * changes some choices without making them near-ties.
 */
function lfm2moeTensors(cfg) {
  const mat = (fanIn, gain = 1) => ({ std: gain / Math.sqrt(fanIn) });
  const g = { ...DEFAULT_GAINS, ...(cfg.tied ? TIED_GAINS : {}), ...cfg.gains };
  const list = [];
  for (const entry of lfm2Tensors(cfg)) {
    const m = /^blk\.(\d+)\.ffn_(gate|up|down)\.weight$/.exec(entry[0]);
    if (!m || Number(m[1]) < cfg.denseLead) list.push(entry);
    else if (m[2] === 'gate') {
      const b = `blk.${m[1]}.`;
      list.push(...moeTensors(cfg, b, g, mat), [`${b}exp_probs_b.bias`, [cfg.nExpert], { std: cfg.biasStd ?? 0.1 }]);
    }
  }
  return list;
}

/**
 * One Mamba-2 mixer's tensors (llama.cpp's names): in_proj to z, xBC, dt;
 * the depthwise conv taps and bias; per-head dt bias, A (stored as
 * -exp(A_log): here A_log ~ log U(1, 16), the reference init) and D; the
 * grouped norm; out_proj. Conv taps, A, D and the norm stay F32 as
 * llama-quantize keeps them. dt biases near -2 (softplus ~0.13) keep a
 * long memory. ssm: { dInner, dState, nHead, nGroup, dConv }.
 */
function ssmTensors(cfg, l) {
  const { dim } = cfg;
  const { dInner, dState, nHead, nGroup, dConv } = cfg.ssm;
  const convDim = dInner + 2 * nGroup * dState;
  const b = `blk.${l}.`;
  const mat = (fanIn, gain = 1) => ({ std: gain / Math.sqrt(fanIn) });
  // -exp(A_log) with exp(A_log) ~ U(1, 16): a gaussian's atan folded into (0, 1)
  const aLog = (name) => () => gaussian(nHead, cfg.seed, name, 1).map((u) => -(1 + 15 * (0.5 + Math.atan(u) / Math.PI)));
  return [
    [`${b}ssm_in.weight`, [dim, dInner + convDim + nHead], mat(dim)],
    [`${b}ssm_conv1d.weight`, [dConv, convDim], { std: 0.5 }, 'F32'],
    [`${b}ssm_conv1d.bias`, [convDim], { std: 0.1 }],
    [`${b}ssm_dt.bias`, [nHead], { std: 0.5, mean: -2 }],
    [`${b}ssm_a`, [1, nHead], aLog(`${b}ssm_a`), 'F32'],
    [`${b}ssm_d`, [1, nHead], { std: 0.1, mean: 1 }, 'F32'],
    [`${b}ssm_norm.weight`, [dInner / nGroup, nGroup], { std: 0.1, mean: 1 }, 'F32'],
    [`${b}ssm_out.weight`, [dInner, dim], mat(dInner)],
  ];
}

/** Mamba-2: embeddings, then per layer its norm and mixer only (no FFN), the final norm, output. */
function mamba2Tensors(cfg) {
  const { dim } = cfg;
  const list = [['token_embd.weight', [dim, cfg.vocab], { std: 1 }]];
  for (let l = 0; l < cfg.layers; l++) list.push([`blk.${l}.attn_norm.weight`, [dim], { std: 0.1, mean: 1 }], ...ssmTensors(cfg, l));
  list.push(['output_norm.weight', [dim], { std: 0.1, mean: 1 }]);
  if (!cfg.tied) list.push(['output.weight', [dim, cfg.vocab], { std: 16 / Math.sqrt(dim) }]);
  return list;
}

/**
 * Granite 4.0-H: granite's layers where layers outside `attnLayers` have a Mamba-2 mixer instead of
 * attention; with `nExpert`, every FFN is a mixture of experts (feed_forward_length wide, as Granite
 * 4.0-H Tiny/Small) with a shared expert when `ffnShexp` is set.
 */
function granitehybridTensors(cfg) {
  const attn = /^blk\.\d+\.attn_(q|k|v|output)\.weight$/;
  const list = [];
  for (const entry of llamaLikeTensors(cfg.nExpert ? { ...cfg, ffn: cfg.ffnExp } : cfg, { moe: cfg.nExpert > 0 })) {
    const [name] = entry;
    const layer = Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1);
    if (layer < 0 || cfg.attnLayers.includes(layer) || !attn.test(name)) list.push(entry);
    else if (name.endsWith('attn_q.weight')) list.push(...ssmTensors(cfg, layer));
  }
  return list;
}

/**
 * Falcon-H1: every layer has attention and a Mamba-2 mixer side by side on
 * the same normed input (the converter folds Falcon-H1's multipliers into
 * the weights, so the file has none), then a SwiGLU FFN.
 */
function falconH1Tensors(cfg) {
  const list = [];
  for (const entry of llamaLikeTensors(cfg)) {
    // llama.cpp asks for blk.N.ffn_norm without the .weight suffix
    if (entry[0].endsWith('.ffn_norm.weight')) list.push([entry[0].replace(/\.weight$/, ''), ...entry.slice(1)]);
    else list.push(entry);
    const m = /^blk\.(\d+)\.attn_output\.weight$/.exec(entry[0]);
    if (m) list.push(...ssmTensors(cfg, Number(m[1])));
  }
  return list;
}

/** The ssm.* keys llama.cpp reads for Mamba-2 mixers. */
function ssmKeys(w, cfg) {
  const a = cfg.arch, s = cfg.ssm;
  w.addU32(`${a}.ssm.conv_kernel`, s.dConv);
  w.addU32(`${a}.ssm.inner_size`, s.dInner);
  w.addU32(`${a}.ssm.state_size`, s.dState);
  w.addU32(`${a}.ssm.time_step_rank`, s.nHead);
  w.addU32(`${a}.ssm.group_count`, s.nGroup);
}

/** Tiny Mamba-2 mixers: d_inner = 2 * 256 in 8 heads of 64, 2 groups of 32 states, 4 taps. */
const SSM_TINY = { dInner: 512, dState: 32, nHead: 8, nGroup: 2, dConv: 4 };

/** Per-layer K/V head counts as lfm2 writes them: 0 for convolution layers. */
const lfm2KvHeads = (cfg) => Array.from({ length: cfg.layers }, (_, l) => (cfg.attnLayers.includes(l) ? cfg.kvHeads : 0));

/** The MoE keys llama.cpp reads (expert_feed_forward_length where the arch has one). */
function moeKeys(w, cfg, { expertFfnKey = true } = {}) {
  w.addU32(`${cfg.arch}.expert_count`, cfg.nExpert);
  w.addU32(`${cfg.arch}.expert_used_count`, cfg.nExpertUsed);
  if (expertFfnKey) w.addU32(`${cfg.arch}.expert_feed_forward_length`, cfg.ffnExp);
}

/** Tiny MoE defaults: 8 experts, 2 used, 256-wide experts (whole K-quant blocks). */
const MOE_DEFAULTS = { nExpert: 8, nExpertUsed: 2, ffnExp: 256 };

/**
 * Architectures as llama.cpp names their tensors and keys. `defaults` are
 * config values the architecture needs beyond the shape (real models' values
 * unless noted); `keys` writes the architecture's own metadata.
 * @type {Record<string, { tensors: (cfg: any) => any[], keys: (w: GGUFWriter, cfg: any) => void, defaults?: object }>}
 */
const ARCHS = {
  llama: { tensors: (cfg) => llamaLikeTensors(cfg), keys: () => {} },
  qwen2: { tensors: (cfg) => llamaLikeTensors(cfg, { qkvBias: true }), keys: () => {}, defaults: { ropeBase: 1000000, rmsEps: 1e-6 } },
  // Qwen3: per-head q/k RMSNorm, head_dim independent of dim/heads (128 in the real models).
  qwen3: { tensors: (cfg) => llamaLikeTensors(cfg, { qkNorm: true }), keys: () => {}, defaults: { ropeBase: 1000000, rmsEps: 1e-6, headDim: 64 } },
  // Gemma: embeddings scaled by sqrt(dim) in the graph, GELU FFN, norms stored as 1 + w.
  // llama.cpp's gemma and gemma2 take no output.weight: the embeddings are always tied. With the
  // sqrt(dim) scaling the current token's embedding is loud in the residual, so layers are louder still.
  gemma: {
    tensors: (cfg) => llamaLikeTensors(cfg, { gains: GEMMA_GAINS }), keys: () => {},
    defaults: { rmsEps: 1e-6, headDim: 64, tied: true },
  },
  // Gemma 2: post-attention/post-FFN norms, logit soft-capping, sliding window on every other layer.
  // The window here is small (real models: 4096) so a test prompt actually crosses it.
  gemma2: {
    tensors: (cfg) => llamaLikeTensors(cfg, { postNorms: true, gains: GEMMA_GAINS }),
    keys: (w, cfg) => {
      w.addF32('gemma2.attn_logit_softcapping', cfg.attnSoftcap);
      w.addF32('gemma2.final_logit_softcapping', cfg.finalSoftcap);
      w.addU32('gemma2.attention.sliding_window', cfg.slidingWindow);
    },
    defaults: { rmsEps: 1e-6, headDim: 64, attnSoftcap: 50, finalSoftcap: 30, slidingWindow: 32, tied: true },
  },
  // Gemma 3: Gemma 2's norms plus per-head q/k norms; 5 sliding-window layers per global one
  // (local layers use rope base 10000, global ones rope.freq_base); no soft-capping.
  gemma3: {
    tensors: (cfg) => llamaLikeTensors(cfg, { postNorms: true, qkNorm: true }),
    keys: (w, cfg) => w.addU32('gemma3.attention.sliding_window', cfg.slidingWindow),
    defaults: { rmsEps: 1e-6, headDim: 64, ropeBase: 1000000, slidingWindow: 32 },
  },
  // Phi-3: fused qkv and gate/up matrices, NeoX RoPE.
  phi3: {
    tensors: (cfg) => llamaLikeTensors(cfg, { fusedQkv: true, fusedGateUp: true }),
    keys: (w, cfg) => w.addU32('phi3.rope.scaling.original_context_length', cfg.ctx),
  },
  // SmolLM3: Llama blocks where every 4th layer skips RoPE (llama.cpp fixes the step at 4).
  smollm3: { tensors: (cfg) => llamaLikeTensors(cfg), keys: () => {}, defaults: { ropeBase: 5000000 } },
  // Granite (3.x): Llama blocks with embedding, residual, attention and logit multipliers.
  granite: {
    tensors: (cfg) => llamaLikeTensors(cfg),
    keys: (w, cfg) => {
      w.addF32('granite.embedding_scale', cfg.embeddingScale);
      w.addF32('granite.residual_scale', cfg.residualScale);
      w.addF32('granite.attention.scale', cfg.attentionScale);
      w.addF32('granite.logit_scale', cfg.logitScale);
    },
    // Granite 3.3 2B uses 12, 0.22, 0.015625, 8; these keep the synthetic model's logits spread.
    defaults: { embeddingScale: 4, residualScale: 0.5, attentionScale: 0.125, logitScale: 0.5 },
  },
  // Granite 3.x MoE: granite's multipliers, every FFN a mixture of experts whose width is
  // feed_forward_length; a shared expert when expert_shared_feed_forward_length is set
  // (on here so the test covers it; Granite 3.x MoE checkpoints have none: ffnShexp 0).
  granitemoe: {
    tensors: (cfg) => llamaLikeTensors({ ...cfg, ffn: cfg.ffnExp }, { moe: true }),
    keys: (w, cfg) => {
      w.addF32('granitemoe.embedding_scale', cfg.embeddingScale);
      w.addF32('granitemoe.residual_scale', cfg.residualScale);
      w.addF32('granitemoe.attention.scale', cfg.attentionScale);
      w.addF32('granitemoe.logit_scale', cfg.logitScale);
      moeKeys(w, cfg, { expertFfnKey: false });
      if (cfg.ffnShexp) w.addU32('granitemoe.expert_shared_feed_forward_length', cfg.ffnShexp);
    },
    ffnKey: (cfg) => cfg.ffnExp,
    defaults: { ...MOE_DEFAULTS, ffnShexp: 256, embeddingScale: 4, residualScale: 0.5, attentionScale: 0.125, logitScale: 0.5 },
  },
  // Qwen3-MoE: qwen3's attention, every FFN a mixture of experts (softmax router, top-k renormalized).
  qwen3moe: {
    tensors: (cfg) => llamaLikeTensors(cfg, { qkNorm: true, moe: true }),
    keys: (w, cfg) => moeKeys(w, cfg),
    defaults: { ...MOE_DEFAULTS, ropeBase: 1000000, rmsEps: 1e-6, headDim: 64 },
  },
  // OLMoE: q/k norms over the whole projections (so K/V heads = heads, as llama.cpp's
  // n_embd-wide k norm needs), top-k weights not renormalized, expert width feed_forward_length.
  olmoe: {
    tensors: (cfg) => llamaLikeTensors({ ...cfg, ffn: cfg.ffnExp }, { qkNormWhole: true, moe: true }),
    keys: (w, cfg) => moeKeys(w, cfg, { expertFfnKey: false }),
    ffnKey: (cfg) => cfg.ffnExp,
    defaults: { ...MOE_DEFAULTS, kvHeads: 8, nExpertUsed: 3 },
  },
  // LFM2: short-convolution layers (head_count_kv 0 in the per-layer array) around attention
  // layers, as LFM2-1.2B's 16 layers put attention at 2, 5, 8, 10, 12, 14; conv taps l_cache 3.
  lfm2: {
    tensors: (cfg) => lfm2Tensors(cfg),
    keys: (w, cfg) => w.addU32('lfm2.shortconv.l_cache', cfg.lCache),
    kvHeadsPerLayer: lfm2KvHeads,
    defaults: { layers: 6, attnLayers: [1, 4], lCache: 3, ropeBase: 1000000 },
  },
  // LFM2-MoE (LFM2-8B-A1B: 24 layers, 2 dense then MoE, 32 experts of 1792, 4 used, sigmoid
  // gating with an expert bias): lfm2's layers, 6 here with the first dense. 4 of 8 experts used
  // and FFN outputs at half gain keep the Q8_0 model from amplifying int8 rounding flips through
  // expert choices: with 2 used at gain 1, Q8_0 runs of llama.cpp and wasmllm agreed at 56, 60
  // and 62 of 64 teacher-forced positions for seeds 9, 1 and 2 (the F32 file holding the Q8_0
  // weights, all 64); with these, 63 at seed 9.
  lfm2moe: {
    tensors: (cfg) => lfm2moeTensors(cfg),
    keys: (w, cfg) => {
      w.addU32('lfm2moe.shortconv.l_cache', cfg.lCache);
      w.addU32('lfm2moe.leading_dense_block_count', cfg.denseLead);
      moeKeys(w, cfg);
      w.addU32('lfm2moe.expert_gating_func', cfg.gatingFunc);
    },
    kvHeadsPerLayer: lfm2KvHeads,
    defaults: { ...MOE_DEFAULTS, nExpertUsed: 4, gains: { ffnDown: 0.5 }, layers: 6, attnLayers: [1, 4], lCache: 3, ropeBase: 1000000,
      denseLead: 1, gatingFunc: 2 },
  },
  // Mamba-2: Mamba-2 mixers only; the converter writes head_count and feed_forward_length 0 and
  // no attention or RoPE keys (ownCommonKeys).
  mamba2: {
    tensors: (cfg) => mamba2Tensors(cfg),
    keys: (w, cfg) => ssmKeys(w, cfg),
    ownCommonKeys: (w, cfg) => {
      w.addU32('mamba2.context_length', cfg.ctx);
      w.addU32('mamba2.embedding_length', cfg.dim);
      w.addU32('mamba2.feed_forward_length', 0);
      w.addU32('mamba2.attention.head_count', 0);
      w.addU32('mamba2.block_count', cfg.layers);
      w.addF32('mamba2.attention.layer_norm_rms_epsilon', cfg.rmsEps);
    },
    defaults: { ssm: SSM_TINY },
  },
  // Granite 4.0-H: Mamba-2 layers (head_count_kv 0 in the per-layer array) around attention
  // layers, SwiGLU FFNs everywhere, granite's multipliers; d_inner must be 2 * dim for llama.cpp.
  // No RoPE, as Granite 4.0-H (rope.scaling.finetuned false).
  granitehybrid: {
    tensors: (cfg) => granitehybridTensors(cfg),
    keys: (w, cfg) => {
      w.addF32('granitehybrid.embedding_scale', cfg.embeddingScale);
      w.addF32('granitehybrid.residual_scale', cfg.residualScale);
      w.addF32('granitehybrid.attention.scale', cfg.attentionScale);
      w.addF32('granitehybrid.logit_scale', cfg.logitScale);
      w.addBool('granitehybrid.rope.scaling.finetuned', cfg.rope);
      ssmKeys(w, cfg);
      if (cfg.nExpert) {
        moeKeys(w, cfg, { expertFfnKey: false });
        if (cfg.ffnShexp) w.addU32('granitehybrid.expert_shared_feed_forward_length', cfg.ffnShexp);
      }
    },
    ffnKey: (cfg) => (cfg.nExpert ? cfg.ffnExp : cfg.ffn),
    kvHeadsPerLayer: (cfg) => Array.from({ length: cfg.layers }, (_, l) => (cfg.attnLayers.includes(l) ? cfg.kvHeads : 0)),
    defaults: {
      layers: 6, attnLayers: [2, 5], ssm: SSM_TINY, rope: false, nExpert: 0,
      embeddingScale: 4, residualScale: 0.5, attentionScale: 0.125, logitScale: 0.5,
    },
  },
  // Falcon-H1: attention (NeoX RoPE, head_dim from key_length) and a Mamba-2 mixer in parallel in
  // every layer, then a SwiGLU FFN. Falcon-H1-0.5B: d_ssm 1536 for width 1024, head_dim 64.
  'falcon-h1': {
    tensors: (cfg) => falconH1Tensors(cfg),
    keys: (w, cfg) => ssmKeys(w, cfg),
    defaults: { ssm: SSM_TINY, headDim: 64, ropeBase: 100000000 },
  },
  // SmallThinker: the router reads the layer input; sigmoid gating (expert_gating_func 2;
  // 1 = softmax), ReGLU experts. With a sliding_window key llama.cpp runs 4096-token windows
  // on 3 of every 4 layers and no RoPE on layers 0, 4, ... (6 layers: with 4, llama.cpp rotates them all).
  smallthinker: {
    tensors: (cfg) => llamaLikeTensors(cfg, { moe: true }),
    keys: (w, cfg) => {
      moeKeys(w, cfg);
      w.addU32('smallthinker.expert_gating_func', cfg.gatingFunc);
      if (cfg.slidingWindow) w.addU32('smallthinker.attention.sliding_window', cfg.slidingWindow);
    },
    ffnKey: (cfg) => cfg.ffnExp,
    defaults: { ...MOE_DEFAULTS, layers: 6, gatingFunc: 2, slidingWindow: 4096 },
  },
};

/** Keys every llama-family architecture shares, under the `arch.` prefix. */
function commonKeys(w, cfg) {
  const a = cfg.arch;
  const hd = cfg.headDim ?? cfg.dim / cfg.heads;
  w.addU32(`${a}.context_length`, cfg.ctx);
  w.addU32(`${a}.embedding_length`, cfg.dim);
  w.addU32(`${a}.block_count`, cfg.layers);
  w.addU32(`${a}.feed_forward_length`, ARCHS[a].ffnKey?.(cfg) ?? cfg.ffn);
  w.addU32(`${a}.attention.head_count`, cfg.heads);
  if (ARCHS[a].kvHeadsPerLayer) w.addArray(`${a}.attention.head_count_kv`, VT.UINT32, ARCHS[a].kvHeadsPerLayer(cfg));
  else w.addU32(`${a}.attention.head_count_kv`, cfg.kvHeads);
  w.addF32(`${a}.rope.freq_base`, cfg.ropeBase);
  w.addF32(`${a}.attention.layer_norm_rms_epsilon`, cfg.rmsEps);
  w.addU32(`${a}.rope.dimension_count`, hd);
  w.addU32(`${a}.vocab_size`, cfg.vocab);
  if (cfg.headDim) {
    w.addU32(`${a}.attention.key_length`, hd);
    w.addU32(`${a}.attention.value_length`, hd);
  }
}

/** Reads a vocab-only GGUF (tokenizer.* keys) from disk. */
export function readVocab(file) {
  const bytes = new Uint8Array(fs.readFileSync(file));
  return parseGGUF(bytes, { allowNoData: true });
}

/**
 * Resolves options into a full config (shape defaults, overrides, vocab size).
 * @param {{ arch?: string, shape?: string, type?: string, vocab: string, layers?: number, seed?: number,
 *   ropeBase?: number, ctx?: number, overrides?: object }} options
 */
export function resolveConfig(options) {
  const shapeName = options.shape ?? 'tiny-gqa';
  const base = shapeName === 'embedded' ? embeddedShape() : SHAPES[shapeName];
  if (!base) throw new Error(`make-synthetic: unknown shape ${shapeName} (have ${Object.keys(SHAPES).join(', ')})`);
  const vocabHeader = readVocab(options.vocab ?? sharedPath('data', 'vocab', 'ggml-vocab-llama-spm.gguf'));
  const tokens = vocabHeader.metadata.get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new Error(`make-synthetic: ${options.vocab} has no tokenizer.ggml.tokens`);
  const arch = options.arch ?? base.arch;
  if (!ARCHS[arch]) throw new Error(`make-synthetic: unknown arch ${arch} (have ${Object.keys(ARCHS).join(', ')})`);
  // An architecture's own defaults apply when it differs from the shape's (e.g. qwen3 on tiny-gqa).
  const archDefaults = arch !== base.arch ? ARCHS[arch].defaults ?? {} : {};
  const cfg = {
    ...base, ...archDefaults, shape: shapeName, type: (options.type ?? 'F32').toUpperCase(), seed: options.seed ?? 1, vocab: tokens.length,
    arch,
    ...(options.layers ? { layers: options.layers } : {}),
    ...(options.ropeBase ? { ropeBase: options.ropeBase } : {}),
    ...(options.ctx ? { ctx: options.ctx } : {}),
    ...(options.tied !== undefined ? { tied: options.tied === true || options.tied === 'true' } : {}),
    ...(options.overrides ?? {}),
  };
  if (!ARCHS[cfg.arch]) throw new Error(`make-synthetic: unknown arch ${cfg.arch} (have ${Object.keys(ARCHS).join(', ')})`);
  return { cfg, vocabHeader };
}

/**
 * Builds the writer for a synthetic model (tensors are generated lazily at write time).
 * `options.typeOverrides` maps name regexps to types, e.g. { '^token_embd': 'F32' }.
 * `options.dequantized`: write F32 tensors holding exactly what the quantized file would decode to.
 * `options.zeroTensors`: a regexp of tensor names written as zeros (e.g. to silence layers).
 * @returns {{ writer: GGUFWriter, cfg: object, types: Record<string, string> }}
 */
export function buildSynthetic(options) {
  const { cfg, vocabHeader } = resolveConfig(options);
  const w = new GGUFWriter();
  w.addString('general.architecture', cfg.arch);
  w.addString('general.name', `synthetic-${cfg.shape}-${cfg.arch}-${cfg.type}-s${cfg.seed}`);
  w.addU32('general.file_type', FILE_TYPE[cfg.type] ?? 0);
  w.addU32('general.quantization_version', 2);
  (ARCHS[cfg.arch].ownCommonKeys ?? commonKeys)(w, cfg);
  ARCHS[cfg.arch].keys(w, cfg);
  w.copyKVs(vocabHeader, (k) => k.startsWith('tokenizer.'));
  const types = {};
  for (const [name, shape, init, forcedType] of ARCHS[cfg.arch].tensors(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isMatrix = shape.length >= 2;
    const override = forcedType ?? Object.entries(options.typeOverrides ?? {}).find(([re]) => new RegExp(re).test(name))?.[1];
    const t = isMatrix ? tensorType(override ?? cfg.type, name, shape[0], cfg.layers, cfg.tied) : 'F32';
    const zero = options.zeroTensors && new RegExp(options.zeroTensors).test(name);
    const make = zero ? () => new Float32Array(n)
      : typeof init === 'function' ? init : () => gaussian(n, cfg.seed, name, init.std, init.mean ?? 0);
    if (options.dequantized && t !== 'F32') {
      // The weights a `t` file holds, stored as F32: tells encoder/layout errors from kernel errors.
      types[name] = 'F32';
      w.addTensor(name, 'F32', shape, () => decode(t, encode(t, make()), n));
    } else {
      types[name] = t;
      w.addTensor(name, t, shape, make);
    }
  }
  return { writer: w, cfg, types };
}

/**
 * Writes a synthetic model; with `split` > 1, as that many gguf-split shards
 * named from `out` without its .gguf suffix.
 * @param {{ out: string, split?: number } & Parameters<typeof buildSynthetic>[0]} options
 * @returns {{ paths: string[], cfg: object, types: Record<string, string> }}
 */
export function makeSynthetic(options) {
  if (!options.out) throw new Error('make-synthetic: --out is required');
  const { writer, cfg, types } = buildSynthetic(options);
  fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
  let paths;
  if (options.split && options.split > 1) {
    const perShard = Math.ceil(writer.tensors.length / options.split);
    paths = writer.writeSplit(options.out.replace(/\.gguf$/, ''), perShard);
  } else {
    writer.write(options.out);
    paths = [options.out];
  }
  return { paths, cfg, types };
}

function parseArgs(argv) {
  const opts = {};
  const num = new Set(['layers', 'seed', 'split', 'ropeBase', 'ctx']);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m) throw new Error(`make-synthetic: unexpected argument ${argv[i]}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (key === 'help') { opts.help = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`make-synthetic: --${m[1]} needs a value`);
    opts[key] = num.has(key) ? Number(v) : v;
  }
  return opts;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.help || !opts.out) {
      console.log(`usage: node tools/make-synthetic.js --out FILE.gguf [--arch ${Object.keys(ARCHS).join('|')}] [--shape ${[...Object.keys(SHAPES)].join('|')}]
       [--type F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1|Q2_K..Q6_K|Q4_K_M|IQ4_NL|IQ4_XS] [--vocab VOCAB.gguf]
       [--layers N] [--seed S] [--split N] [--rope-base B] [--ctx N]`);
      process.exit(opts.help ? 0 : 2);
    }
    const t0 = Date.now();
    const { paths, cfg } = makeSynthetic(opts);
    const bytes = paths.reduce((s, p) => s + fs.statSync(p).size, 0);
    console.log(`${paths.join(', ')}: ${cfg.arch} ${cfg.shape} ${cfg.type}, ${cfg.layers} layers, vocab ${cfg.vocab}, ${(bytes / 1e6).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
