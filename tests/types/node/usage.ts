// Every documented Node API, type-checked with `tsc --strict` against the packed
// package (tests/node/package.test.js). Never run: it only has to compile, and the
// lines marked as expected errors must stay errors (they fail if the wrong .d.ts is picked).
import {
  loadModel, embeddedModelPath, parseGGUF, readGGUFHeader, readHeaders, createTokenizer, GGUFStringArray,
  WasmllmError, defaultThreadCount, canUseThreads, Model, Session,
  type ChatMessage, type Completion, type ModelInfo, type ModelMemory, type BatchStats, type LoadProgress, type KvType,
  type CompleteOptions, type ChatOptions, type EmbedOptions, type TokenPiece, type Tokenizer, type GGUFHeader,
  type WasmModule, type PerplexityOptions, type PerplexityResult,
} from 'wasmllm';
import { createServer, type ServerConfig } from 'wasmllm/server';
import { createWorkerHandler } from 'wasmllm/worker';
import { readFile } from 'node:fs/promises';

const controller = new AbortController();
const kvType: KvType = 'q8_0';
const model: Model = await loadModel(embeddedModelPath, {
  threads: await defaultThreadCount(), contextSize: 256, kvType, signal: controller.signal, sessions: 2,
  variant: canUseThreads() ? 'mt' : 'st',
  onProgress: (p: LoadProgress) => console.log(p.loaded, p.total ?? 0, p.shard, p.shards),
});
// Every kind of source.
const bytes = await readFile(embeddedModelPath);
await loadModel(bytes);
await loadModel(bytes.buffer);
await loadModel(new Blob([bytes]));
await loadModel(new URL(`file://${embeddedModelPath}`));
await loadModel(['a-00001-of-00002.gguf', 'a-00002-of-00002.gguf']);
await loadModel(new Response(bytes));

const options: CompleteOptions = {
  maxTokens: 8, temperature: 0, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, repeatLastN: 64,
  frequencyPenalty: 0, presencePenalty: 0, seed: 1, stop: ['\n\n'], stopTokens: [2], signal: controller.signal,
  addSpecial: true, parseSpecial: true,
};
const it = model.complete('ROMEO:', options);
let text = '';
for (;;) {
  const step = await it.next();
  if (step.done) {
    const c: Completion = step.value;
    console.log(c.finishReason, c.promptEvaluated, c.timings.decodeTokensPerSecond, c.tokens.length);
    break;
  }
  const piece: TokenPiece = step.value;
  text += piece.text;
}
for await (const { token } of model.complete([1, 2, 3])) console.log(token);

const messages: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Who art thou?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
  { role: 'tool', tool_call_id: 'c1', content: '42' },
];
const chatOptions: ChatOptions = { maxTokens: 16, tools: [], template: '{{ messages }}', templateName: 'tool_use', extra: { enable_thinking: false } };
for await (const { text: t } of model.chat(messages, chatOptions)) text += t;

const embedOptions: EmbedOptions = { pooling: 'mean', normalize: false, signal: controller.signal };
const vectors: Float32Array[] = await model.embed(['a', [1, 2]], embedOptions);

const pplOptions: PerplexityOptions = { contextSize: 128, batchSize: 32, signal: controller.signal, onChunk: (c) => console.log(c.chunk, c.chunks, c.ppl) };
const ppl: PerplexityResult = await model.perplexity('a long text', pplOptions);
console.log(ppl.ppl, ppl.uncertainty, ppl.meanNll, ppl.estimates.length, ppl.scored, ppl.tokens, ppl.chunks, ppl.contextSize);
await model.perplexity([1, 2, 3]);
for await (const p of model.complete('Hi', { echo: true, logprobs: 2, maxTokens: 0 })) {
  const lp: number | null | undefined = p.logprob;
  console.log(p.prompt === true, lp);
}

const ids: number[] = model.tokenize('Hello', { addSpecial: false, parseSpecial: false }); // sync in Node
const back: string = model.detokenize(ids, { showSpecial: true });
const info: ModelInfo = model.info();
const memory: ModelMemory = model.memory();
const batchStats: BatchStats = model.batchStats();
console.log(batchStats.enabled, batchStats.steps, batchStats.batches, batchStats.maxSequences);
await loadModel(embeddedModelPath, { batch: false });
console.log(info.architecture, info.kvType, info.wasmVariant, memory.heapBytes, memory.kvCacheBytes, vectors.length, back);
const session: Session = model.createSession({ contextSize: 128 });
console.log(session.contextSize, session.kvType, session.kvCacheBytes, session.lastCompletion?.text);
const tokens = model.metadata.get('tokenizer.ggml.tokens') as GGUFStringArray;
console.log(tokens.get(0), tokens.indexOf('<s>'), [...tokens].length, model.tokenizer.tokens.length);
// @ts-expect-error: the browser model's loadReport does not exist in Node
console.log(model.loadReport);
session.dispose();
model.dispose();

// Reading files without weights.
const header: GGUFHeader = parseGGUF(new Uint8Array(bytes), { packStrings: true });
const shards = await readHeaders(embeddedModelPath, { allowNoData: true });
const again: GGUFHeader = await readGGUFHeader(async (n) => new Uint8Array(bytes.subarray(0, n)), bytes.length);
const tokenizer: Tokenizer = createTokenizer(header.metadata);
const decoder = tokenizer.createStreamDecoder();
console.log(shards[0].header.tensors.length, again.version, tokenizer.encode('hi').length, decoder.push(1) + decoder.flush());
console.log(GGUFStringArray.from(['a', 'b']).toArray());

try {
  await loadModel('missing.gguf');
} catch (e) {
  if (e instanceof WasmllmError && e.code === 'ERR_NOT_FOUND') console.log(e.message);
}

// The server and the edge handler, from Node.
const served = await loadModel(embeddedModelPath);
const config: ServerConfig = {
  engines: [served, served.createSession()], modelId: 'shakespeare', maxBodyBytes: 1 << 20, maxQueue: 8,
  maxTokensDefault: 64, embeddings: false, log: (line: string) => console.error(line),
};
const server = createServer(config);
server.listen(0, '127.0.0.1', () => server.close());
// Node's own types declare no WebAssembly namespace: WasmModule is `object` here, WebAssembly.Module with DOM types.
declare const compiled: WasmModule;
const handler = createWorkerHandler({
  wasmModule: compiled, model: bytes, modelId: 'm', contextSize: 256,
  kvType: 'f16', maxTokensDefault: 16, maxBodyBytes: 1024, maxQueue: 2,
});
const response: Response = await handler.fetch(new Request('http://x/v1/models'), {}, { waitUntil: () => {} });
console.log(text, response.status);
