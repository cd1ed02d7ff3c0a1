#!/usr/bin/env node
/**
 * The `wasmllm` command line: run, complete, info, tokenize (here) and chat
 * (web/node/cli-chat.js). Bad arguments exit 2 with the usage on stderr; runtime
 * errors print `wasmllm: CODE: message` and exit 1.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { WasmllmError } from '../errors.js';
import { readHeaders } from './load.js';
import { GGUFStringArray } from '../gguf-strings.js';
import { loadProgress } from './progress.js';
import { parseKvType } from '../kv-type.js';
import { CONSTRAINT_OPTIONS, constraintUsage, constraintOptions } from './cli-constraints.js';
import { SPECULATIVE_OPTIONS, speculativeUsage, speculativeFlags, openSpeculative, speculativeSummary } from './cli-speculative.js';

import { embeddedModelPath as EMBEDDED_MODEL } from './embedded-model.js';
const EMBEDDED_PROMPT = 'ROMEO:';

const USAGE = `usage: wasmllm <command> [options]

commands:
  run       generate text and stream it to stdout (echoes the prompt)
  complete  like run, without the prompt echo; --json prints tokens and text at the end
  chat      interactive chat with the model's chat template (wasmllm chat --help)
  serve     OpenAI-compatible HTTP server (wasmllm serve --help)
  embed     print text embeddings as JSON (wasmllm embed --help)
  perplexity  llama-perplexity's PPL of a text file (wasmllm perplexity --help)
  info      print a model's metadata and tensor summary
  tokenize  print the token ids of a text as one JSON array (works on vocab-only GGUFs)

run / complete options:
  -m, --model PATH|URL      GGUF file, URL, or the first shard of a split model
                            (default: the embedded Shakespeare model)
  -p, --prompt TEXT         prompt (default for the embedded model: "${EMBEDDED_PROMPT}")
  -f, --prompt-file FILE    read the prompt from a file
  -n, --max-tokens N        tokens to generate (default 256)
      --temperature T       default 0.8; 0 = greedy
      --top-k K             default 40; 0 = off
      --top-p P             default 0.95; 1 = off
      --min-p P             default 0.05; 0 = off
      --repeat-penalty R    default 1 (off; llama.cpp's default too)
      --repeat-last-n N     default 64
      --frequency-penalty F default 0
      --presence-penalty P  default 0
      --seed S              default random
      --stop TEXT           stop when this text is generated (repeatable)
${constraintUsage(28)}
${speculativeUsage(28)}
  -t, --threads N           threads (default: 1 under 100M parameters, else every core)
  -c, --ctx N               context size in tokens (default: the model's, at most 4096)
      --kv-type f16|q8_0    KV cache type (default f16; q8_0 takes ~53% of the memory)
      --isa simd128|relaxed|auto  wasm build (default simd128; relaxed SIMD needs Node 22+, auto
                            takes it where it runs right; same output either way)
      --json                (complete) print {"prompt_tokens","tokens","text"} at the end
                            (and "speculative": drafted/accepted counts, with --lookup/--draft-model)
      --logprobs K          (complete --json) add "logprobs": each token's log-probability
                            and its K most likely alternatives (0: none)
      --echo                (complete --json --logprobs K) add "prompt_logprobs": the same for
                            each prompt token given the ones before it (the first: null)
  -q, --quiet               (run) do not echo the prompt
  -v, --verbose             timing lines on stderr

info options:      -m, --model PATH|URL  [--json]
tokenize options:  -m, --model PATH|URL  (--text T | --file F)  [--no-special]
                   --no-special: no BOS/EOS added, special-token text not parsed`;

class UsageError extends Error {}

/** Numeric flags: name -> [option key, integer?] */
const NUMERIC = {
  'max-tokens': ['maxTokens', true], temperature: ['temperature', false], 'top-k': ['topK', true],
  'top-p': ['topP', false], 'min-p': ['minP', false], 'repeat-penalty': ['repeatPenalty', false],
  'repeat-last-n': ['repeatLastN', true], 'frequency-penalty': ['frequencyPenalty', false],
  'presence-penalty': ['presencePenalty', false], seed: ['seed', true], threads: ['threads', true],
  ctx: ['contextSize', true], 'ctx-size': ['contextSize', true],
};

const GENERATE_OPTIONS = {
  model: { type: 'string', short: 'm' },
  prompt: { type: 'string', short: 'p' },
  'prompt-file': { type: 'string', short: 'f' },
  'max-tokens': { type: 'string', short: 'n' },
  threads: { type: 'string', short: 't' },
  ctx: { type: 'string', short: 'c' },
  'kv-type': { type: 'string' },
  isa: { type: 'string' },
  stop: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  logprobs: { type: 'string' },
  echo: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  ...CONSTRAINT_OPTIONS,
  ...SPECULATIVE_OPTIONS,
};
for (const flag of Object.keys(NUMERIC)) GENERATE_OPTIONS[flag] ??= { type: 'string' };

/** @param {string[]} args @param {object} options */
function parse(args, options) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new UsageError(e.message);
  }
}

/** @param {Record<string, any>} values */
function numbers(values) {
  const out = {};
  for (const [flag, [key, integer]] of Object.entries(NUMERIC)) {
    if (values[flag] === undefined) continue;
    const v = Number(values[flag]);
    if (values[flag].trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      throw new UsageError(`--${flag} needs ${integer ? 'an integer' : 'a number'}, got '${values[flag]}'`);
    }
    out[key] = v;
  }
  if (out.threads !== undefined && out.threads < 1) throw new UsageError('--threads must be at least 1');
  if (out.contextSize !== undefined && out.contextSize < 1) throw new UsageError('--ctx must be at least 1');
  if (out.maxTokens !== undefined && out.maxTokens < 0) throw new UsageError('--max-tokens must not be negative');
  return out;
}

/**
 * The --kv-type value, checked by the same rule loadModel applies.
 * @param {string | undefined} value
 */
function kvTypeFlag(value) {
  try {
    return parseKvType(value, '--kv-type');
  } catch (e) {
    throw new UsageError(e.message);
  }
}

/**
 * --logprobs K: the number of alternatives per token (with --json only, where they are printed).
 * @param {string | undefined} value @param {boolean | undefined} json
 */
function logprobsFlag(value, json) {
  if (value === undefined) return undefined;
  const k = Number(value);
  if (value.trim() === '' || !Number.isInteger(k) || k < 0) throw new UsageError(`--logprobs needs a non-negative integer, got '${value}'`);
  if (!json) throw new UsageError('--logprobs works with complete --json only');
  return k;
}

/** Writes to stdout and resolves once the data has been handed to the OS. */
function write(text) {
  return new Promise((resolve) => {
    if (!process.stdout.write(text)) process.stdout.once('drain', resolve);
    else resolve();
  });
}

/** @param {'run'|'complete'} command @param {string[]} args */
async function generate(command, args) {
  const values = parse(args, GENERATE_OPTIONS);
  if (values.help) { console.log(USAGE); return 0; }
  const n = numbers(values);
  const kvType = kvTypeFlag(values['kv-type']);
  if (values.json && command !== 'complete') throw new UsageError('--json works with complete only');
  const logprobs = logprobsFlag(values.logprobs, values.json);
  if (values.echo && logprobs === undefined) throw new UsageError('--echo works with complete --json --logprobs K only');
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  const constraints = constraintOptions(values, (m) => new UsageError(m));
  const specFlags = speculativeFlags(values, (m) => new UsageError(m));
  const modelSource = values.model ?? EMBEDDED_MODEL;
  let prompt = values.prompt;
  if (values['prompt-file'] !== undefined) prompt = readTextFile(values['prompt-file']);
  prompt ??= values.model === undefined ? EMBEDDED_PROMPT : '';

  const { loadModel } = await import('./load.js');
  const controller = new AbortController();
  const onSigint = () => controller.abort(new WasmllmError('ERR_ABORTED', 'interrupted'));
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  const bar = loadProgress(modelSource, values.quiet);
  const model = await loadModel(modelSource, { threads: n.threads, contextSize: n.contextSize, kvType, isa: values.isa, signal: controller.signal, onProgress: bar?.update });
  bar?.done();
  let spec = null;
  try {
    spec = specFlags && await openSpeculative(specFlags, 1, loadModel, { threads: n.threads, contextSize: n.contextSize, kvType, isa: values.isa });
    if (values.verbose) {
      const i = model.info();
      console.error(`wasmllm: loaded ${modelSource} (${i.architecture}, ${(i.nParams / 1e6).toFixed(2)}M params, ${i.fileType ?? '?'}) in ${(performance.now() - t0).toFixed(0)} ms; context ${i.contextSize} (${i.kvType} KV cache, ${(i.kvCacheBytes / 1048576).toFixed(1)} MiB), ${i.threads} thread(s), wasm ${i.wasmVariant} ${i.wasmIsa}`);
    }
    // Flags left out fall through to the runtime's SAMPLING_DEFAULTS, as the server's requests do.
    const options = {
      ...n, ...constraints, stop: values.stop ?? [], signal: controller.signal,
      ...(logprobs === undefined ? {} : { logprobs }), ...(values.echo ? { echo: true } : {}),
      ...(spec ? { speculative: spec.options[0] } : {}),
    };
    delete options.threads;
    delete options.contextSize;
    if (command === 'run' && !values.quiet) await write(prompt);
    const it = model.complete(prompt, options);
    let result;
    const scored = [], promptScored = [];
    for (;;) {
      const step = await it.next();
      if (step.done) { result = step.value; break; }
      if (!values.json && step.value.text) await write(step.value.text);
      if (logprobs !== undefined && step.value.token >= 0) {
        const p = step.value;
        (p.prompt ? promptScored : scored).push({ token: p.token, text: p.tokenText, logprob: p.logprob, top: (p.topLogprobs ?? []).map((t) => ({ token: t.token, text: t.text, logprob: t.logprob })) });
      }
    }
    if (values.json) {
      const out = { prompt_tokens: result.promptTokens, tokens: result.tokens, text: result.text,
        ...(result.timings.speculative ? { speculative: result.timings.speculative } : {}) };
      await write(JSON.stringify(logprobs === undefined ? out : { ...out, ...(values.echo ? { prompt_logprobs: promptScored } : {}), logprobs: scored }) + '\n');
    } else {
      await write('\n');
    }
    if (values.verbose) {
      const t = result.timings;
      console.error(`wasmllm: load ${model.info().loadMs} ms`);
      console.error(`wasmllm: prompt ${result.promptEvaluated} tokens in ${t.promptMs.toFixed(1)} ms (${t.promptTokensPerSecond.toFixed(1)} tokens/s)`);
      console.error(`wasmllm: decode ${result.tokens.length} tokens in ${t.decodeMs.toFixed(1)} ms (${t.decodeTokensPerSecond.toFixed(1)} tokens/s), stopped by ${result.finishReason}`);
      if (t.speculative) console.error(`wasmllm: ${speculativeSummary(t.speculative)}`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    spec?.dispose();
    model.dispose();
  }
  return 0;
}

/** @param {string} file */
function readTextFile(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new WasmllmError('ERR_NOT_FOUND', `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

/** Shows a metadata value on one line; long arrays are summarized. */
function showValue(v) {
  const packed = v instanceof GGUFStringArray; // decode only the elements shown
  const isArray = packed || Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  if (typeof v === 'string' && v.length > 120) return `${JSON.stringify(v.slice(0, 100))}... (${v.length} characters)`;
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(7))); // f32 noise
  if (!isArray) return typeof v === 'bigint' ? `${v}` : JSON.stringify(v);
  const head = packed ? v.slice(0, v.length > 8 ? 5 : 8) : v.length > 8 ? Array.prototype.slice.call(v, 0, 5) : v;
  const items = Array.from(head, (x) => showValue(x));
  const kind = packed ? 'strings' : Array.isArray(v) ? (typeof v[0] === 'string' ? 'strings' : 'values') : v.constructor.name.replace('Array', '').toLowerCase();
  if (v.length <= 8) return `[${items.join(', ')}]`;
  const shown = items.map((s) => (s.length > 40 ? `${s.slice(0, 37)}...` : s));
  return `[${v.length} ${kind}: ${shown.join(', ')}, ...]`;
}

/** JSON-safe form of a metadata value (typed arrays -> arrays, BigInt -> string). */
function jsonValue(v) {
  if (typeof v === 'bigint') return v.toString();
  if (ArrayBuffer.isView(v)) return Array.from(/** @type {any} */ (v), jsonValue);
  if (v instanceof GGUFStringArray) return v.toArray();
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}

/** @param {string[]} args */
async function info(args) {
  const values = parse(args, { model: { type: 'string', short: 'm' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) { console.log(USAGE); return 0; }
  const source = values.model ?? EMBEDDED_MODEL;
  const shards = await readHeaders(source, { packStrings: true });
  const main = shards.find((s) => (s.header.metadata.get('split.no') ?? 0) === 0) ?? shards[0];
  const tensors = shards.flatMap((s) => s.header.tensors);
  const byType = {};
  let bytes = 0, params = 0;
  for (const t of tensors) {
    byType[t.typeName] = (byType[t.typeName] ?? 0) + 1;
    bytes += t.nBytes;
    params += t.shape.reduce((a, b) => a * b, 1);
  }
  if (values.json) {
    const metadata = {};
    for (const [k, v] of main.header.metadata) metadata[k] = jsonValue(v);
    await write(JSON.stringify({
      file: source, shards: shards.length, size: shards.reduce((s, x) => s + x.size, 0), version: main.header.version,
      metadata, tensors: { count: tensors.length, bytes, params, types: byType },
    }) + '\n');
    return 0;
  }
  const lines = [];
  lines.push(`file: ${source}${shards.length > 1 ? ` (${shards.length} shards)` : ''}`);
  lines.push(`size: ${shards.reduce((s, x) => s + x.size, 0)} bytes, GGUF v${main.header.version}, alignment ${main.header.alignment}`);
  lines.push(`metadata (${main.header.metadata.size} keys):`);
  for (const [k, v] of main.header.metadata) lines.push(`  ${k} = ${showValue(v)}`);
  lines.push(`tensors: ${tensors.length}, ${params} parameters, ${bytes} bytes`);
  for (const [type, count] of Object.entries(byType)) lines.push(`  ${type}: ${count}`);
  for (const t of tensors.slice(0, 8)) lines.push(`  ${t.name} ${t.typeName} [${t.shape.join(', ')}]`);
  if (tensors.length > 8) lines.push(`  ... ${tensors.length - 8} more`);
  await write(lines.join('\n') + '\n');
  return 0;
}

/** @param {string[]} args */
async function tokenize(args) {
  const values = parse(args, {
    model: { type: 'string', short: 'm' }, text: { type: 'string' }, file: { type: 'string' },
    'no-special': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { console.log(USAGE); return 0; }
  if ((values.text === undefined) === (values.file === undefined)) throw new UsageError('tokenize needs exactly one of --text or --file');
  const text = values.text ?? readTextFile(values.file);
  // Vocab-only GGUFs have no tensor data: no wasm is needed to tokenize.
  const shards = await readHeaders(values.model ?? EMBEDDED_MODEL, { allowNoData: true, packStrings: true });
  const main = shards.find((s) => (s.header.metadata.get('split.no') ?? 0) === 0) ?? shards[0];
  const { createTokenizer } = await import('../tokenizer/index.js');
  const tokenizer = createTokenizer(main.header.metadata);
  const special = !values['no-special'];
  const ids = tokenizer.encode(text, { addSpecial: special, parseSpecial: special });
  await write(JSON.stringify(Array.from(ids)) + '\n');
  return 0;
}

async function chat(args) {
  const { runChatCli } = await import('./cli-chat.js');
  return runChatCli(args);
}

async function serve(args) {
  const { runServeCli } = await import('./cli-serve.js');
  return runServeCli(args);
}

const embed = async (args) => (await import('./cli-embed.js')).runEmbedCli(args);
const perplexity = async (args) => (await import('./cli-perplexity.js')).runPerplexityCli(args);

const COMMANDS = { run: (a) => generate('run', a), complete: (a) => generate('complete', a), info, tokenize, chat, serve, embed, perplexity };

/** @param {string[]} argv @returns {Promise<number>} the exit code */
export async function main(argv) {
  const [command, ...args] = argv;
  if (command === '--help' || command === '-h' || command === 'help') { console.log(USAGE); return 0; }
  const run = COMMANDS[command];
  try {
    if (!run) throw new UsageError(command ? `unknown command '${command}'` : 'no command given');
    return await run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`wasmllm: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof WasmllmError) {
      process.stderr.write(`wasmllm: ${e.code}: ${e.message}\n`);
      // A bad argument found past parsing (e.g. by chat's parser) is still a usage error.
      return e.code === 'ERR_BAD_ARG' && command === 'chat' ? 2 : e.code === 'ERR_ABORTED' ? 130 : 1;
    }
    process.stderr.write(`wasmllm: ${e?.stack ?? e}\n`);
    return 1;
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const code = await main(process.argv.slice(2));
  // Exit explicitly: a wasm pthread pool or a pending handle must not keep us alive.
  process.stdout.write('', () => process.exit(code));
}
