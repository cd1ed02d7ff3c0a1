/**
 * Runs inside the dedicated Web Worker that web/browser/index.js starts: one model
 * per worker. Loads it (shards into the wasm heap, see web/browser/shard-loader.js),
 * runs generation and streams tokens back with postMessage, so the page's
 * main thread never blocks on a matmul. Message protocol (all carry `id`):
 *
 *   in:  load {source, options} | complete {prompt, options} | chat {messages, options}
 *        | abort {target} | tokenize {text, options} | detokenize {ids, options} | info | dispose
 *        | embed {texts, options} (done's value: Float32Array[], transferred)
 *        | perplexity {text, options} (a chunk {chunk} message after each chunk)
 *   out: progress {progress} | warning {error} | token {token, text, heapBytes} | chunk {chunk}
 *        | done {value} | error {error}
 */
import { loadModel, PREPARE_WEIGHTS } from '../model.js';
import { createShardLoader } from './shard-loader.js';
import { WasmllmError } from '../errors.js';
import { loadJinja } from '../jinja.js';

/** @type {import('../model.js').Model | null} */
let model = null;
/** @type {import('../wasm-loader.js').WasmInstance | null} */
let wasm = null;
/** Where the page found @huggingface/jinja (its import map), if it did. */
let jinjaUrl;
/** AbortControllers of the load or generations in flight, by message id. */
const running = new Map();

const heapBytes = () => (wasm ? wasm.heapU8().length : 0);

/** @param {unknown} e @returns {{ name: string, code: string, message: string }} */
function serializeError(e) {
  if (e instanceof WasmllmError) return { name: e.name, code: e.code, message: e.message };
  if (e?.name === 'AbortError') return { name: 'WasmllmError', code: 'ERR_ABORTED', message: 'aborted' };
  // A wasm trap or a bug: keep its text, it is what a report needs.
  return { name: 'WasmllmError', code: 'ERR_INTERNAL', message: `${e?.name ?? 'Error'}: ${e?.message ?? e}` };
}

const reply = (id, type, fields = {}, transfer = []) => self.postMessage({ id, type, ...fields }, transfer);

/** Token id lists travel as transferred Int32Arrays, not copied arrays. */
function packCompletion(result) {
  const promptTokens = Int32Array.from(result.promptTokens);
  const tokens = Int32Array.from(result.tokens);
  return { value: { ...result, promptTokens, tokens, heapBytes: heapBytes() }, transfer: [promptTokens.buffer, tokens.buffer] };
}

async function onLoad(id, source, options) {
  if (model) throw new WasmllmError('ERR_BUSY', 'this worker already holds a model');
  jinjaUrl = options.jinjaUrl;
  const controller = new AbortController();
  running.set(id, controller);
  const loader = createShardLoader({
    parallel: options.parallel, retries: options.retries, retryDelayMs: options.retryDelayMs,
    cache: options.cache, hfEndpoint: options.hfEndpoint,
    onWarning: (w) => reply(id, 'warning', { error: serializeError(w) }),
  });
  try {
    model = await loadModel(source, {
      threads: options.threads, contextSize: options.contextSize, kvType: options.kvType, variant: options.variant, isa: options.isa,
      signal: controller.signal,
      // the cache stores the shards' bytes after the load: rearrange weights after that
      deferPrepare: !!loader.cache,
      onProgress: (progress) => reply(id, 'progress', { progress }),
      loadShards: (src, instance, o) => { wasm = instance; return loader.loadShards(src, instance, o); },
    });
  } catch (e) {
    loader.discard();
    wasm = null;
    throw e;
  } finally {
    running.delete(id);
  }
  if (loader.cache) {
    reply(id, 'progress', { progress: { phase: 'cache' } });
    await loader.commitToCache();
  }
  model[PREPARE_WEIGHTS]();
  return { info: { ...model.info(), heapBytes: heapBytes() }, report: { ...loader.report } };
}

async function onGenerate(id, msg) {
  if (!model) throw new WasmllmError('ERR_NO_MODEL', 'no model is loaded in this worker');
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const options = { ...msg.options, signal: controller.signal };
    if (msg.type === 'chat') await loadJinja(jinjaUrl);
    const iterator = msg.type === 'chat' ? model.chat(msg.messages, options) : model.complete(msg.prompt, options);
    for (;;) {
      const step = await iterator.next();
      if (step.done) return packCompletion(step.value);
      // The whole piece: logprobs and chat()'s content/reasoning/toolCalls deltas travel with the text.
      reply(id, 'token', { piece: step.value, heapBytes: heapBytes() });
    }
  } finally {
    running.delete(id);
  }
}

async function onEmbed(id, msg) {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const vectors = await requireModel().embed(msg.texts, { ...msg.options, signal: controller.signal });
    return { value: vectors, transfer: vectors.map((v) => v.buffer) };
  } finally {
    running.delete(id);
  }
}

async function onPerplexity(id, msg) {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const onChunk = (chunk) => reply(id, 'chunk', { chunk });
    return { value: await requireModel().perplexity(msg.text, { ...msg.options, signal: controller.signal, onChunk }) };
  } finally {
    running.delete(id);
  }
}

/** @param {any} msg @returns {Promise<{ value: any, transfer?: Transferable[] } | any>} */
async function handle(msg) {
  switch (msg.type) {
    case 'load': return { value: await onLoad(msg.id, msg.source, msg.options ?? {}) };
    case 'complete':
    case 'chat': return onGenerate(msg.id, msg);
    case 'embed': return onEmbed(msg.id, msg);
    case 'perplexity': return onPerplexity(msg.id, msg);
    case 'tokenize': return { value: requireModel().tokenize(msg.text, msg.options) };
    case 'detokenize': return { value: requireModel().detokenize(msg.ids, msg.options) };
    case 'info': return { value: { ...requireModel().info(), heapBytes: heapBytes() } };
    case 'dispose':
      model?.dispose();
      model = null;
      wasm = null;
      return { value: true };
    default: throw new WasmllmError('ERR_BAD_ARG', `unknown message type ${msg.type}`);
  }
}

function requireModel() {
  if (!model) throw new WasmllmError('ERR_NO_MODEL', 'no model is loaded in this worker');
  return model;
}

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg?.type === 'abort') {
    running.get(msg.target)?.abort(new WasmllmError('ERR_ABORTED', 'aborted by the caller'));
    return;
  }
  try {
    const { value, transfer = [] } = await handle(msg);
    reply(msg.id, 'done', { value }, transfer);
  } catch (e) {
    reply(msg.id, 'error', { error: serializeError(e) });
  }
};

// Tell the page the module graph loaded (an import error never gets this far).
self.postMessage({ type: 'ready' });
