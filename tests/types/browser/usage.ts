// Every documented browser API, type-checked with `tsc --strict` (moduleResolution
// "bundler", customConditions ["browser"], DOM lib, no Node types) against the packed
// package (tests/node/package.test.js). Never run: it only has to compile, and the
// lines marked as expected errors must stay errors (they fail if the Node .d.ts is picked).
import {
  loadModel, isCrossOriginIsolated, modelCache, hfFileUrl, resolveHfShards, parseGGUF, readGGUFHeader,
  GGUFStringArray, WasmllmError, ShardCache, BrowserModel, MAX_HEAP_BYTES, MAX_SHARD_BYTES,
  type BrowserLoadOptions, type BrowserLoadProgress, type ShardProgress, type LoadReport, type CacheEntry,
  type HfSource, type CompleteOptions, type ChatMessage, type Completion, type ModelInfo, type KvType,
} from 'wasmllm';
import { loadModel as loadFromSubpath } from 'wasmllm/browser';

const controller = new AbortController();
const kvType: KvType = 'q8_0';
const options: BrowserLoadOptions = {
  threads: navigator.hardwareConcurrency, contextSize: 512, kvType, variant: isCrossOriginIsolated() ? 'mt' : 'st',
  signal: controller.signal,
  onProgress: (p: BrowserLoadProgress) => {
    const shard: ShardProgress = p.perShard[p.shard];
    console.log(p.loaded, p.total ?? 0, p.shards, p.phase, shard.name, shard.url, shard.fromCache, shard.done);
  },
  onWarning: (w: WasmllmError) => console.warn(w.code),
  parallel: 2, retries: 3, retryDelayMs: 250, cache: { maxBytes: 2e9, name: 'my-models' },
  hfEndpoint: 'https://hf-mirror.example', workerUrl: new URL('/assets/worker-host.js', location.href),
};
const model: BrowserModel = await loadModel('/models/model.gguf', options);
// Every kind of source.
const hf: HfSource = { repo: 'owner/name', file: 'model-00001-of-00002.gguf', revision: 'main' };
await loadModel(hf);
await loadModel({ url: 'https://example.com/m.gguf', sha256: 'ab'.repeat(32) });
await loadModel([new URL('https://example.com/a-00001-of-00002.gguf'), 'https://example.com/a-00002-of-00002.gguf']);
await loadModel(new File([new Uint8Array(8)], 'm.gguf'));
await loadModel(new ArrayBuffer(8), { cache: false });
await loadFromSubpath(new Uint8Array(8));

const report: LoadReport = model.loadReport;
const heap: number = model.heapBytes;
console.log(report.fromCache, report.downloaded, report.bytesDownloaded, report.resumed, report.requests, heap);
const info: ModelInfo & { heapBytes: number } = model.info();
console.log(info.nVocab, info.heapBytes);

const completeOptions: CompleteOptions = { maxTokens: 64, temperature: 0.7, seed: 3, stop: ['\n'], signal: controller.signal };
for await (const { text } of model.complete('Once upon a time', completeOptions)) document.body.append(text);
const messages: ChatMessage[] = [{ role: 'user', content: 'Hello' }];
const chat = model.chat(messages, { maxTokens: 32, extra: { enable_thinking: false } });
for await (const piece of chat) console.log(piece.token, piece.text);
const last: Completion | null = model.lastCompletion;
console.log(last?.finishReason);
const vectors: Float32Array[] = await model.embed('text', { normalize: true });
const ppl: number = (await model.perplexity('a long text', { contextSize: 64, onChunk: (c) => console.log(c.chunk, c.ppl) })).ppl;
console.log(ppl);

const ids: Promise<number[]> = model.tokenize('Hello'); // async in the browser
const text: Promise<string> = model.detokenize(await ids);
// @ts-expect-error: tokenize() is not synchronous here
const syncIds: number[] = model.tokenize('Hello');
// @ts-expect-error: memory() is Node's
model.memory();
console.log(await text, vectors.length, syncIds);
model.dispose();

const cache: ShardCache = modelCache({ name: 'my-models', maxBytes: 1e9 });
const entries: CacheEntry[] = await cache.list();
const usage = await cache.usage();
console.log(cache.available, entries.map((e) => [e.url, e.size, e.cachedAt, e.sha256]), usage.bytes, usage.originQuota);
await cache.delete(entries[0].url);
await cache.clear();
console.log(new ShardCache().available, MAX_HEAP_BYTES, MAX_SHARD_BYTES);

const urls: string[] = await resolveHfShards(hf, { signal: controller.signal });
console.log(hfFileUrl(hf), urls);
const header = parseGGUF(new Uint8Array(8), { totalSize: 8, packStrings: true });
const again = await readGGUFHeader(async (n) => new Uint8Array(n), 8);
console.log(header.tensors.length, again.alignment, GGUFStringArray.from(['x']).length);
try {
  await loadModel('https://example.com/404.gguf');
} catch (e) {
  if (e instanceof WasmllmError) console.log(e.code === 'ERR_FETCH', e.message);
}
