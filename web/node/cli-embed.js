/**
 * `wasmllm embed`: prints the embedding of one or more texts as JSON (one
 * array for one text, an array of arrays for several), normalized unless
 * told otherwise, pooled as the GGUF says unless --pooling says otherwise.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { WasmllmError } from '../errors.js';
import { loadModel } from './load.js';
import { loadProgress } from './progress.js';

export const EMBED_USAGE = `usage: wasmllm embed --model PATH|URL (--text T [--text T ...] | --file F) [options]

  -m, --model PATH|URL   GGUF file, URL or first shard of an embedding model (bert, nomic-bert)
                         or of a decoder (last-token pooling unless the file names another)
      --text T           a text to embed (repeatable)
  -f, --file F           embed each non-empty line of F as its own text
      --pooling P        mean | cls | last (default: the model's pooling_type)
      --no-normalize     print the pooled hidden state as is (default: divided by its L2 norm)
  -t, --threads N        threads (default: 1 under 100M parameters, else every core)
  -c, --ctx N            context size: the longest text it can embed (default: the model's, at most 4096)
  -q, --quiet            no progress bar

prints one JSON array of numbers for one text, an array of such arrays for several`;

class UsageError extends Error {}

/** @param {string|undefined} v @param {string} flag */
function positiveInt(v, flag) {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${flag} must be an integer >= 1, got '${v}'`);
  return Number(v);
}

/** The texts named by --text or --file. @param {Record<string, any>} values */
function readTexts(values) {
  if ((values.text === undefined) === (values.file === undefined)) throw new UsageError('give --text (one or more) or --file, not both and not neither');
  if (values.text !== undefined) return values.text;
  let content;
  try {
    content = fs.readFileSync(values.file, 'utf8');
  } catch (e) {
    throw new WasmllmError('ERR_NOT_FOUND', `cannot read ${values.file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const lines = content.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new WasmllmError('ERR_BAD_ARG', `${values.file} has no non-empty line to embed`);
  return lines;
}

/** Writes to stdout and resolves once the data has been handed to the OS. */
function write(text) {
  return new Promise((resolve) => {
    if (!process.stdout.write(text)) process.stdout.once('drain', resolve);
    else resolve();
  });
}

/**
 * @param {string[]} argv arguments after `embed`
 * @returns {Promise<number>} the exit code (runtime errors are thrown as WasmllmError)
 */
export async function runEmbedCli(argv) {
  let values, texts, cfg;
  try {
    ({ values } = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: {
        model: { type: 'string', short: 'm' }, text: { type: 'string', multiple: true }, file: { type: 'string', short: 'f' },
        pooling: { type: 'string' }, 'no-normalize': { type: 'boolean' }, threads: { type: 'string', short: 't' },
        ctx: { type: 'string', short: 'c' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      console.log(EMBED_USAGE);
      return 0;
    }
    if (values.model === undefined) throw new UsageError('--model is required');
    if (values.pooling !== undefined && !['mean', 'cls', 'last'].includes(values.pooling)) {
      throw new UsageError(`--pooling must be mean, cls or last, got '${values.pooling}'`);
    }
    cfg = { threads: positiveInt(values.threads, 'threads'), contextSize: positiveInt(values.ctx, 'ctx') };
    texts = readTexts(values);
  } catch (e) {
    if (e instanceof WasmllmError) throw e;
    console.error(`wasmllm embed: ${e.message}\n\n${EMBED_USAGE}`);
    return 2;
  }

  const bar = loadProgress(values.model, values.quiet);
  const model = await loadModel(values.model, { ...cfg, onProgress: bar?.update });
  bar?.done();
  try {
    const controller = new AbortController();
    const onSigint = () => controller.abort(new WasmllmError('ERR_ABORTED', 'interrupted'));
    process.once('SIGINT', onSigint);
    try {
      const vectors = await model.embed(texts, {
        pooling: values.pooling, normalize: !values['no-normalize'], signal: controller.signal,
      });
      const rows = vectors.map((v) => Array.from(v));
      await write(JSON.stringify(rows.length === 1 ? rows[0] : rows) + '\n');
    } finally {
      process.off('SIGINT', onSigint);
    }
  } finally {
    model.dispose();
  }
  return 0;
}
