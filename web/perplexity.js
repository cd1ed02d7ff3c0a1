/**
 * Perplexity as llama.cpp's `llama-perplexity` defines it, so that the two
 * tools' figures can be compared: the whole text is tokenized once (BOS in
 * front when the model adds one), cut into chunks of `contextSize` tokens
 * (a short tail is dropped), each chunk evaluated on an empty KV cache with
 * its first token replaced by BOS (when the model adds one), and only the
 * second half of every chunk scored, so that each scored token has at least
 * contextSize/2 tokens of context. PPL = exp(mean negative log-likelihood);
 * its uncertainty is the standard error of that mean, times PPL.
 *
 * This module does the arithmetic; the forward passes come from an
 * evaluator (Session.perplexity gives one over wl_decode_all).
 */
import { WasmllmError } from './errors.js';
import { abortError } from './sources.js';

/** llama-perplexity's default --ctx-size. */
export const PERPLEXITY_CONTEXT = 512;
/** Tokens per forward pass by default: as many logit rows as are held at once. */
export const PERPLEXITY_BATCH = 64;

/**
 * @typedef {object} PerplexityEvaluator the forward passes Session.perplexity lends
 * @property {number} nVocab
 * @property {() => void} reset  empties the KV cache
 * @property {(ids: number[]) => void} decode  appends ids; no logits needed
 * @property {(ids: number[]) => Float32Array} decodeAll  appends ids and returns ids.length rows
 *   of nVocab logits, row i after token i; valid until the next call
 * @property {() => Promise<void>} pause  lets timers and abort signals run between passes
 *
 * @typedef {object} PerplexityChunk what onChunk gets after each chunk
 * @property {number} chunk      1-based
 * @property {number} chunks     how many the text gives
 * @property {number} ppl        the running estimate over every chunk so far
 *
 * @typedef {object} PerplexityResult
 * @property {number} ppl          exp(mean negative log-likelihood)
 * @property {number} uncertainty  the standard error of PPL (llama.cpp's `+/-`)
 * @property {number} meanNll      mean negative log-likelihood (nats per token)
 * @property {number[]} estimates  the running PPL after each chunk (llama.cpp's `[1]x,[2]y,...`)
 * @property {number} contextSize  tokens per chunk
 * @property {number} chunks       chunks evaluated
 * @property {number} tokens       tokens in the whole text (BOS included)
 * @property {number} scored       tokens scored: chunks * (contextSize - contextSize/2 - 1)
 */

/**
 * Refuses a chunk size, batch or chunk count that cannot work, and a text too short for two chunks.
 * @param {number} nTokens @param {number} n chunk size @param {number} batchSize @param {number} [maxChunks]
 */
export function checkPerplexityArgs(nTokens, n, batchSize, maxChunks) {
  if (maxChunks !== undefined && (!Number.isInteger(maxChunks) || maxChunks < 1)) {
    throw new WasmllmError('ERR_BAD_ARG', `chunks must be a positive integer, got ${maxChunks}`);
  }
  if (!Number.isInteger(n) || n < 4) {
    // Fewer than 4 would score no token (or only one, which has no standard error).
    throw new WasmllmError('ERR_BAD_ARG', `contextSize must be an integer >= 4 for perplexity, got ${n}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new WasmllmError('ERR_BAD_ARG', `batchSize must be a positive integer, got ${batchSize}`);
  }
  if (nTokens < 2 * n) {
    throw new WasmllmError('ERR_BAD_ARG', `perplexity with a context of ${n} needs at least ${2 * n} tokens; the text has ${nTokens}`);
  }
}

/**
 * The chunks llama.cpp evaluates: tokens[i*n, (i+1)*n) with the first replaced by `bos`,
 * at most `maxChunks` of them (llama-perplexity's --chunks).
 * @param {ArrayLike<number>} tokens @param {number} n @param {number | null} bos @param {number} [maxChunks]
 * @returns {number[][]}
 */
export function perplexityChunks(tokens, n, bos, maxChunks) {
  checkPerplexityArgs(tokens.length, n, 1, maxChunks);
  const chunks = [];
  for (let start = 0; start + n <= tokens.length && chunks.length < (maxChunks ?? Infinity); start += n) {
    const chunk = Array.from({ length: n }, (_, k) => tokens[start + k]);
    if (bos !== null) chunk[0] = bos;
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * -log p(target) under softmax(row), summed in double precision as llama.cpp does.
 * @param {Float32Array} row @param {number} target
 */
export function tokenNll(row, target) {
  let max = row[0];
  for (let i = 1; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return -(row[target] - max - Math.log(sum));
}

/** Running sums of the negative log-likelihoods, and llama.cpp's estimate from them. */
export class NllSums {
  count = 0;
  sum = 0;
  sumSquares = 0;

  /** @param {number} nll */
  add(nll) {
    this.count++;
    this.sum += nll;
    this.sumSquares += nll * nll;
  }

  get ppl() { return Math.exp(this.sum / this.count); }

  /** PPL times the standard error of the mean NLL (0 when every token scored the same). */
  get uncertainty() {
    const mean = this.sum / this.count;
    const variance = this.sumSquares / this.count - mean * mean;
    return variance > 0 ? Math.sqrt(variance / (this.count - 1)) * this.ppl : 0;
  }
}

/**
 * Scores `tokens` (the whole text, tokenized with BOS as the model adds it).
 * @param {PerplexityEvaluator} ev
 * @param {ArrayLike<number>} tokens
 * @param {{ contextSize: number, batchSize: number, bos: number | null, chunks?: number, signal?: AbortSignal,
 *   onChunk?: (c: PerplexityChunk) => void }} options
 * @returns {Promise<PerplexityResult>}
 */
export async function scorePerplexity(ev, tokens, options) {
  const { contextSize: n, batchSize, bos, signal, onChunk, chunks: maxChunks } = options;
  checkPerplexityArgs(tokens.length, n, batchSize, maxChunks);
  const chunks = perplexityChunks(tokens, n, bos, maxChunks);
  const first = Math.floor(n / 2);
  const sums = new NllSums();
  const estimates = [];
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c];
    ev.reset();
    // The first half is context only: no logits are kept for it.
    for (let i = 0; i < first; i += batchSize) {
      if (signal?.aborted) throw abortError(signal);
      ev.decode(chunk.slice(i, Math.min(i + batchSize, first)));
      await ev.pause();
    }
    // Rows first .. n-2 predict tokens first+1 .. n-1; the chunk's last token predicts nothing scored.
    for (let i = first; i < n - 1; i += batchSize) {
      if (signal?.aborted) throw abortError(signal);
      const ids = chunk.slice(i, Math.min(i + batchSize, n - 1));
      const rows = ev.decodeAll(ids);
      for (let r = 0; r < ids.length; r++) {
        sums.add(tokenNll(rows.subarray(r * ev.nVocab, (r + 1) * ev.nVocab), chunk[i + r + 1]));
      }
      await ev.pause();
    }
    estimates.push(sums.ppl);
    onChunk?.({ chunk: c + 1, chunks: chunks.length, ppl: sums.ppl });
  }
  return {
    ppl: sums.ppl, uncertainty: sums.uncertainty, meanNll: sums.sum / sums.count, estimates,
    contextSize: n, chunks: chunks.length, tokens: tokens.length, scored: sums.count,
  };
}

/** llama.cpp's running line: `[1]12.3456,[2]11.2345,` @param {number[]} estimates */
export function formatEstimates(estimates) {
  return estimates.map((p, i) => `[${i + 1}]${p.toFixed(4)},`).join('');
}

/** llama.cpp's last line. @param {PerplexityResult} r */
export function formatFinal(r) {
  return `Final estimate: PPL = ${r.ppl.toFixed(4)} +/- ${r.uncertainty.toFixed(5)}`;
}
