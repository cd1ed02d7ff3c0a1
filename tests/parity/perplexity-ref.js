/**
 * llama.cpp's side of the perplexity parity test: the same chunks
 * llama-perplexity evaluates (web/perplexity.js's perplexityChunks), run
 * through node-llama-cpp on a fresh sequence each, with the probability of
 * every scored token read from llama.cpp's logits. Cached on disk per
 * (file contents, chunks, settings), as oracle.js caches greedy runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { getLlama, hashFiles, nodeLlamaCppVersion, CACHE_DIR } from './oracle.js';

const REF_VERSION = 1; // bump when the cached result format or method changes

/**
 * -log p(chunk[k+1]) for k = n/2 .. n-2 of every chunk, in order (llama-perplexity's scored tokens).
 * @param {string} modelPath @param {number[][]} chunks every chunk n tokens, BOS already in place
 * @param {{ threads?: number }} [options]
 * @returns {Promise<{ nll: number[], cached: boolean }>}
 */
export async function llamaCppChunkNll(modelPath, chunks, options = {}) {
  const { threads = 1 } = options;
  const n = chunks[0].length;
  const key = JSON.stringify({ v: REF_VERSION, nlc: nodeLlamaCppVersion(), model: hashFiles([modelPath]), chunks });
  const cacheFile = path.join(CACHE_DIR, 'perplexity', crypto.createHash('sha256').update(key).digest('hex').slice(0, 32) + '.json');
  if (fs.existsSync(cacheFile)) return { nll: JSON.parse(fs.readFileSync(cacheFile, 'utf8')), cached: true };

  const llama = await getLlama();
  const model = await llama.loadModel({ modelPath });
  try {
    // One batch per chunk, as llama-perplexity's default n_batch (2048, capped at n_ctx) gives.
    const context = await model.createContext({ contextSize: n, batchSize: n, threads, sequences: 1 });
    try {
      const sequence = context.getSequence();
      const first = Math.floor(n / 2);
      const nll = [];
      for (const chunk of chunks) {
        await sequence.clearHistory();
        const want = { generateNext: { probabilities: true, options: { temperature: 0 } } };
        const input = chunk.slice(0, n - 1).map((t, k) => (k >= first ? [t, want] : t));
        const out = await sequence.controlledEvaluate(input);
        for (let k = first; k < n - 1; k++) {
          const p = out[k]?.next?.probabilities?.get(chunk[k + 1]);
          if (!(p > 0)) throw new Error(`llama.cpp gave no probability for token ${chunk[k + 1]} at position ${k + 1}`);
          nll.push(-Math.log(p));
        }
      }
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(cacheFile, JSON.stringify(nll));
      return { nll, cached: false };
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}
