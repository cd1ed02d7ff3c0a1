/**
 * `wasmllm serve`: loads one model and serves the OpenAI-compatible API
 * (web/node/server.js) until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadModel } from './load.js';
import { createServer } from './server.js';
import { loadProgress } from './progress.js';
import { parseKvType } from '../kv-type.js';
import { SPECULATIVE_OPTIONS, speculativeUsage, speculativeFlags, openSpeculative } from './cli-speculative.js';

import { embeddedModelPath as EMBEDDED_MODEL } from './embedded-model.js';

export const SERVE_USAGE = `usage: wasmllm serve [options]

  -m, --model PATH|URL   GGUF file, URL or first shard (default: the embedded model)
      --host HOST        address to listen on (default 127.0.0.1)
      --port PORT        port (default 8080; 0 picks a free one)
      --slots N          requests generated at once; more wait in a queue (default 1). Their
                         decode steps run together, one pass over the weights per step
      --no-batch         each slot decodes alone, in turns (the behaviour before batching; the
                         same output, for comparison)
      --queue N          requests allowed to wait (default 256; beyond: 503)
  -c, --ctx N            context size per slot (default: the model's, at most 4096)
      --kv-type f16|q8_0 KV cache type of every slot (default f16; q8_0 takes ~53% of the memory)
  -t, --threads N        threads (default: 1 under 100M parameters, else every core)
      --isa simd128|relaxed|auto  wasm build (default simd128; relaxed SIMD needs Node 22+, auto
                         takes it where it runs right; same output either way)
      --max-body BYTES   request body limit (default 1048576)
      --name NAME        model id reported by /v1/models (default: the file's general.name or file name)
      --alias NAME       another id requests may name (repeatable; default: the file name without
                         .gguf, e.g. 'shakespeare')
      --api-key KEY      require Authorization: Bearer KEY (or set WASMLLM_API_KEY); /health, /ready open
      --shutdown-timeout S  on SIGINT/SIGTERM, let running requests finish for up to S seconds,
                         then end them (default 10)
${speculativeUsage(25)}
                         (each slot gets its own draft session; a request's 'prediction'
                         drafts by lookup in the predicted text instead)
  -q, --quiet            no request log

endpoints: GET /health (liveness), GET /ready (503 while a request would be refused),
           GET /v1/models, POST /v1/completions, POST /v1/chat/completions,
           POST /v1/embeddings (embedding models)
sampling defaults (a request naming none): temperature 0.8, top_k 40, top_p 0.95, min_p 0.05,
           repeat_penalty 1 (off), max_tokens 256`;

class UsageError extends Error {}

/** @param {string|undefined} v @param {string} flag @param {number} dflt @param {number} min */
function int(v, flag, dflt, min) {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
}

/**
 * @param {string[]} argv arguments after `serve`
 * @param {{ onListening?: (url: string) => void }} [hooks]
 */
export async function runServeCli(argv, hooks = {}) {
  let values;
  let cfg;
  try {
    ({ values } = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: {
        model: { type: 'string', short: 'm' }, host: { type: 'string' }, port: { type: 'string' },
        slots: { type: 'string' }, queue: { type: 'string' }, ctx: { type: 'string', short: 'c' },
        'kv-type': { type: 'string' }, isa: { type: 'string' },
        threads: { type: 'string', short: 't' }, 'max-body': { type: 'string' }, name: { type: 'string' },
        alias: { type: 'string', multiple: true }, 'api-key': { type: 'string' }, 'shutdown-timeout': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' }, 'no-batch': { type: 'boolean' },
        ...SPECULATIVE_OPTIONS,
      },
    }));
    if (values.help) {
      console.log(SERVE_USAGE);
      return 0;
    }
    cfg = {
      port: int(values.port, 'port', 8080, 0),
      slots: int(values.slots, 'slots', 1, 1),
      queue: int(values.queue, 'queue', 256, 0),
      ctx: values.ctx === undefined ? undefined : int(values.ctx, 'ctx', 0, 1),
      threads: values.threads === undefined ? undefined : int(values.threads, 'threads', 0, 1),
      maxBody: int(values['max-body'], 'max-body', 1 << 20, 1),
      kvType: parseKvType(values['kv-type'], '--kv-type'), // the rule loadModel applies
      shutdownMs: int(values['shutdown-timeout'], 'shutdown-timeout', 10, 0) * 1000,
      apiKey: values['api-key'] ?? process.env.WASMLLM_API_KEY ?? undefined,
      speculative: speculativeFlags(values, (m) => new UsageError(m)),
    };
    if (cfg.apiKey !== undefined && !cfg.apiKey.trim()) throw new UsageError('--api-key must not be empty');
    if (cfg.port > 65535) throw new UsageError(`--port must be at most 65535, got ${cfg.port}`);
  } catch (e) {
    console.error(`wasmllm serve: ${e.message}\n\n${SERVE_USAGE}`);
    return 2;
  }

  const modelPath = values.model ?? EMBEDDED_MODEL;
  const bar = loadProgress(modelPath, values.quiet);
  const model = await loadModel(modelPath, {
    threads: cfg.threads, contextSize: cfg.ctx, kvType: cfg.kvType, batch: !values['no-batch'], isa: values.isa, onProgress: bar?.update,
  });
  bar?.done();
  const engines = [model];
  for (let i = 1; i < cfg.slots; i++) engines.push(model.createSession({ contextSize: cfg.ctx }));
  const spec = cfg.speculative && await openSpeculative(cfg.speculative, cfg.slots, loadModel, { threads: cfg.threads, contextSize: cfg.ctx, kvType: cfg.kvType });
  const md = model.metadata;
  const fileName = String(modelPath).split(/[\\/]/).pop().replace(/\.gguf$/i, '');
  const modelId = values.name ?? (md.get('general.name') ? String(md.get('general.name')) : fileName);
  // The file name is what people type (the README's client asks for 'shakespeare').
  const aliases = values.alias ?? [fileName];
  // Embedding models: encoders, and decoders whose file names a pooling_type (info().pooling null otherwise).
  const isEmbedding = typeof model.embed === 'function' && model.info().pooling != null;
  const server = createServer({
    engines, modelId, aliases, apiKey: cfg.apiKey, maxBodyBytes: cfg.maxBody, maxQueue: cfg.queue, embeddings: isEmbedding,
    speculative: spec?.options,
    log: values.quiet ? undefined : (line) => console.error(`wasmllm serve: ${line}`),
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, values.host ?? '127.0.0.1', resolve);
  });
  const addr = server.address();
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  const also = server.api.aliases.length ? ` (also '${server.api.aliases.join("', '")}')` : '';
  const batching = cfg.slots === 1 ? '' : values['no-batch'] ? ', in turns' : ', batched';
  const { wasmVariant, wasmIsa } = model.info();
  console.log(`wasmllm serve: '${modelId}'${also} on ${url}/v1 (${cfg.slots} slot${cfg.slots > 1 ? 's' : ''}${batching}, wasm ${wasmVariant} ${wasmIsa})`);
  hooks.onListening?.(url);

  await new Promise((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.error(`wasmllm serve: shutting down (running requests get up to ${cfg.shutdownMs / 1000} s)`);
  await server.shutdown(cfg.shutdownMs);
  for (const e of engines.reverse()) e.dispose(); // sessions before the model that owns them
  spec?.dispose();
  return 0;
}
