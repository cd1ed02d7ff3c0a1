/**
 * The reference side of the parity tests: greedy decoding of a GGUF with
 * llama.cpp (through node-llama-cpp, installed in tests/ref/), raw token ids
 * in and out: no chat wrapper, no BOS added behind our back, no repeat
 * penalty. Results are cached on disk per (file contents, prompt, settings)
 * because loading llama.cpp and a model takes seconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE_DIR = path.join(repoRoot, '.cache');
const NLC_DIR = path.join(repoRoot, 'tests', 'ref', 'node_modules', 'node-llama-cpp');
const ORACLE_VERSION = 1; // bump when the cached result format or method changes

let llamaPromise = null;

/** node-llama-cpp's Llama (CPU, prebuilt binaries only), loaded once per process. */
export async function getLlama() {
  if (!llamaPromise) {
    llamaPromise = (async () => {
      const entry = path.join(NLC_DIR, 'dist', 'index.js');
      if (!fs.existsSync(entry)) throw new Error(`node-llama-cpp is not installed in tests/ref (run: node tools/setup.js --test)`);
      const nlc = await import(pathToFileURL(entry).href);
      return nlc.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
    })();
  }
  return llamaPromise;
}

export function nodeLlamaCppVersion() {
  return JSON.parse(fs.readFileSync(path.join(NLC_DIR, 'package.json'), 'utf8')).version;
}

/** sha256 of a file's (or several files') contents, streamed. */
export function hashFiles(files) {
  const h = crypto.createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    try {
      let n;
      while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex');
}

/**
 * @typedef {{ promptTokens: number[], tokens: number[], gaps: number[], top2: number[], stoppedAtEog: boolean,
 *   text: string, ms: number, cached: boolean }} OracleResult
 *   gaps[i]: log(p(top1)/p(top2)) = the top-1/top-2 logit gap at generated position i;
 *   top2[i]: the runner-up token there.
 */

/**
 * Greedy continuation of a prompt in llama.cpp.
 * @param {string | string[]} modelPath a GGUF, or the first shard of a split one
 * @param {{ prompt?: string, promptTokens?: number[], nPredict?: number, contextSize?: number,
 *   threads?: number, addBos?: boolean, batchSize?: number, kvType?: 'f16' | 'q8_0', noCache?: boolean }} options
 *   batchSize: llama.cpp's batch (1 makes it decode the prompt token by token)
 *   kvType: the KV cache's key and value type (--cache-type-k/-v), with flash attention on, which
 *   llama.cpp needs for a quantized V cache; without it, node-llama-cpp's defaults (f16)
 *   With `prompt` (text), the BOS token is prepended when the model's metadata asks for it
 *   (tokenizer.ggml.add_bos_token, as llama.cpp does), unless `addBos` says otherwise.
 * @returns {Promise<OracleResult>}
 */
export async function greedyReference(modelPath, options) {
  const files = Array.isArray(modelPath) ? modelPath : [modelPath];
  const { prompt, promptTokens, nPredict = 64, contextSize = 512, threads = 1, addBos, batchSize, kvType } = options;
  // kvType joins the key only when given, so earlier results stay cached under their keys.
  const key = JSON.stringify({ v: ORACLE_VERSION, nlc: nodeLlamaCppVersion(), model: hashFiles(files), prompt, promptTokens, nPredict, contextSize, addBos, batchSize, kvType });
  const cacheFile = path.join(CACHE_DIR, 'oracle', crypto.createHash('sha256').update(key).digest('hex').slice(0, 32) + '.json');
  if (!options.noCache && fs.existsSync(cacheFile)) {
    return { ...JSON.parse(fs.readFileSync(cacheFile, 'utf8')), cached: true };
  }

  const t0 = performance.now();
  const llama = await getLlama();
  const model = await llama.loadModel({ modelPath: files[0] });
  try {
    const cacheType = kvType === undefined ? {} : {
      flashAttention: true, experimentalKvCacheKeyType: kvType.toUpperCase(), experimentalKvCacheValueType: kvType.toUpperCase(),
    };
    const context = await model.createContext({ contextSize, threads, batchSize: batchSize ?? Math.min(512, contextSize), sequences: 1, ...cacheType });
    try {
      let ids = promptTokens ? [...promptTokens] : null;
      if (!ids) {
        ids = [...model.tokenize(prompt, false)];
        const wantsBos = addBos ?? model.fileInfo.metadata?.tokenizer?.ggml?.add_bos_token ?? true;
        if (wantsBos && model.tokens.bos != null) ids.unshift(model.tokens.bos);
      }
      const sequence = context.getSequence();
      const tokens = [], gaps = [], top2 = [];
      let stoppedAtEog = false;
      if (nPredict > 0) {
        const it = sequence.evaluateWithMetadata(ids, { probabilities: true }, { temperature: 0, yieldEogToken: true });
        for await (const { token, probabilities } of it) {
          // probabilities: Map token -> p, softmax of the raw logits.
          let p1 = -1, t1 = -1, p2 = -1, t2 = -1;
          for (const [t, p] of probabilities) {
            if (p > p1) { p2 = p1; t2 = t1; p1 = p; t1 = t; } else if (p > p2) { p2 = p; t2 = t; }
          }
          // An end-of-generation token ends the run and is not part of it (wasmllm's complete() does the same).
          if (model.isEogToken(token)) { stoppedAtEog = true; break; }
          tokens.push(token);
          gaps.push(p2 > 0 ? Math.log(p1 / p2) : Infinity);
          top2.push(t2);
          if (tokens.length >= nPredict) break;
        }
      }
      const result = { promptTokens: ids, tokens, gaps, top2, stoppedAtEog, text: model.detokenize(tokens), ms: Math.round(performance.now() - t0) };
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(cacheFile, JSON.stringify(result));
      return { ...result, cached: false };
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/**
 * llama.cpp's log-probabilities of the next token after `tokens` (uncached).
 * @param {string | string[]} modelPath @param {number[]} tokens @param {number} nVocab
 * @returns {Promise<Float64Array>} one entry per vocabulary id; -Infinity where p underflows
 */
export async function nextTokenLogProbs(modelPath, tokens, nVocab) {
  const files = Array.isArray(modelPath) ? modelPath : [modelPath];
  const llama = await getLlama();
  const model = await llama.loadModel({ modelPath: files[0] });
  try {
    const context = await model.createContext({ contextSize: 64, threads: 1, sequences: 1 });
    try {
      const out = new Float64Array(nVocab).fill(-Infinity);
      const it = context.getSequence().evaluateWithMetadata(tokens, { probabilities: true }, { temperature: 0 });
      for await (const { probabilities } of it) {
        for (const [t, p] of probabilities) if (t < out.length) out[t] = Math.log(p);
        break;
      }
      return out;
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/**
 * Compares a run against the reference, token by token.
 * @param {OracleResult} ref
 * @param {number[]} got generated tokens of the runtime under test
 * @param {[string, string]} [names] how the report calls the two sides
 * @returns {{ same: number, total: number, firstDiff: number, diffs: { pos: number, want: number, got: number, gap: number }[], report: string }}
 */
export function compareTokens(ref, got, names = ['llama.cpp', 'wasmllm']) {
  const [refName, gotName] = names;
  const total = Math.max(ref.tokens.length, got.length);
  const diffs = [];
  for (let i = 0; i < total; i++) {
    if (ref.tokens[i] !== got[i]) diffs.push({ pos: i, want: ref.tokens[i], got: got[i], gap: ref.gaps[i] });
  }
  const firstDiff = diffs.length ? diffs[0].pos : -1;
  const fmtGap = (g) => (g === undefined ? 'n/a' : g.toFixed(4));
  const report = diffs.length === 0
    ? `all ${total} tokens identical`
    : `${total - diffs.length}/${total} identical; first difference at position ${firstDiff}: ${refName} ${diffs[0].want} vs ${gotName} ${diffs[0].got} ` +
      `(${refName}'s top-1/top-2 logit gap there: ${fmtGap(diffs[0].gap)}${ref.top2[firstDiff] === diffs[0].got ? `, ${gotName} took ${refName}'s runner-up` : ''}); ` +
      `differences at ${diffs.slice(0, 8).map((d) => `${d.pos}:${d.want}/${d.got}`).join(' ')}${diffs.length > 8 ? ' ...' : ''}`;
  return { same: total - diffs.length, total, firstDiff, diffs, report };
}
