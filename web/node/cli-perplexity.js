/**
 * `wasmllm perplexity`: llama.cpp's llama-perplexity on a text file (see
 * web/perplexity.js for the definition), printing its running estimate
 * `[1]x,[2]y,...` as chunks finish and its `Final estimate: PPL = x +/- y`,
 * so the figures of the two tools can be put side by side.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { WasmllmError } from '../errors.js';
import { loadModel } from './load.js';
import { loadProgress } from './progress.js';
import { embeddedModelPath } from './embedded-model.js';
import { PERPLEXITY_CONTEXT, PERPLEXITY_BATCH, formatFinal } from '../perplexity.js';
import { parseKvType } from '../kv-type.js';

export const PERPLEXITY_USAGE = `usage: wasmllm perplexity --file F [options]

  -m, --model PATH|URL   GGUF file, URL or first shard (default: the embedded Shakespeare model)
  -f, --file F           the text to score (UTF-8; tokenized whole, BOS in front as the model asks)
  -c, --ctx-size N       tokens per chunk (default ${PERPLEXITY_CONTEXT}, as llama-perplexity); the text
                         needs at least 2*N tokens; the second half of each chunk is scored
      --chunks N         score at most the first N chunks (default: every whole chunk)
  -b, --batch B          tokens per forward pass (default ${PERPLEXITY_BATCH}); the result does not depend on it
  -t, --threads N        threads (default: 1 under 100M parameters, else every core)
      --kv-type f16|q8_0 KV cache type (default f16)
      --json             print one JSON object at the end instead of llama-perplexity's lines
  -q, --quiet            no progress bar

prints the running estimate after each chunk ([1]x,[2]y,...) and then
"Final estimate: PPL = x +/- y" (the +/- is the standard error), as llama-perplexity does`;

class UsageError extends Error {}

/** @param {string|undefined} v @param {string} flag @param {number} min */
function intAtLeast(v, flag, min) {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
}

/** Writes to stdout and resolves once the data has been handed to the OS. */
function write(text) {
  return new Promise((resolve) => {
    if (!process.stdout.write(text)) process.stdout.once('drain', resolve);
    else resolve();
  });
}

/**
 * @param {string[]} argv arguments after `perplexity`
 * @returns {Promise<number>} the exit code (runtime errors are thrown as WasmllmError)
 */
export async function runPerplexityCli(argv) {
  let values, text, contextSize, batchSize, threads, chunks, kvType;
  try {
    ({ values } = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: {
        model: { type: 'string', short: 'm' }, file: { type: 'string', short: 'f' },
        'ctx-size': { type: 'string', short: 'c' }, batch: { type: 'string', short: 'b' }, chunks: { type: 'string' },
        threads: { type: 'string', short: 't' }, 'kv-type': { type: 'string' }, json: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(PERPLEXITY_USAGE);
      return 0;
    }
    if (values.file === undefined) throw new UsageError('--file is required');
    contextSize = intAtLeast(values['ctx-size'], 'ctx-size', 4) ?? PERPLEXITY_CONTEXT;
    batchSize = intAtLeast(values.batch, 'batch', 1) ?? PERPLEXITY_BATCH;
    threads = intAtLeast(values.threads, 'threads', 1);
    chunks = intAtLeast(values.chunks, 'chunks', 1);
    kvType = parseKvType(values['kv-type'], '--kv-type');
  } catch (e) {
    console.error(`wasmllm perplexity: ${e.message}\n\n${PERPLEXITY_USAGE}`);
    return 2;
  }
  try {
    text = fs.readFileSync(values.file, 'utf8');
  } catch (e) {
    throw new WasmllmError('ERR_NOT_FOUND', `cannot read ${values.file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }

  const modelPath = values.model ?? embeddedModelPath;
  const bar = loadProgress(modelPath, values.quiet);
  const model = await loadModel(modelPath, { threads, contextSize, kvType, onProgress: bar?.update });
  bar?.done();
  try {
    const controller = new AbortController();
    const onSigint = () => controller.abort(new WasmllmError('ERR_ABORTED', 'interrupted'));
    process.once('SIGINT', onSigint);
    try {
      const t0 = performance.now();
      const onChunk = values.json ? undefined : (c) => process.stdout.write(`[${c.chunk}]${c.ppl.toFixed(4)},`);
      const r = await model.perplexity(text, { contextSize, batchSize, chunks, signal: controller.signal, onChunk });
      const seconds = (performance.now() - t0) / 1000;
      if (values.json) {
        const { ppl, uncertainty, meanNll, estimates, chunks, tokens, scored } = r;
        await write(JSON.stringify({ ppl, uncertainty, meanNll, contextSize, chunks, tokens, scored, estimates, seconds }) + '\n');
      } else {
        await write(`\n${formatFinal(r)}\n`);
        if (!values.quiet) process.stderr.write(`${r.chunks} chunks of ${contextSize} tokens, ${r.scored} tokens scored, ${seconds.toFixed(1)} s\n`);
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
  } finally {
    model.dispose();
  }
  return 0;
}
