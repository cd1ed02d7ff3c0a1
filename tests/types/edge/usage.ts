// The edge API, type-checked with `tsc --strict` (moduleResolution "bundler",
// customConditions ["workerd"], WebWorker lib, no Node types) against the packed
// package (tests/node/package.test.js). Never run.
import { createWorkerHandler, type WorkerHandler, type WorkerHandlerConfig, type BucketObject } from 'wasmllm/worker';
import { createWorkerHandler as fromRoot } from 'wasmllm';
import wasmModule from 'wasmllm/dist/mjs/wasmllm-st.wasm';

interface Env { MODELS: { get(key: string): Promise<BucketObject | null> } }

const config: WorkerHandlerConfig = {
  wasmModule,
  model: (env: Env) => env.MODELS.get('model.gguf'),
  modelId: 'my-model', contextSize: 1024, kvType: 'q8_0', maxTokensDefault: 128, maxBodyBytes: 1 << 20, maxQueue: 4, slots: 2,
};
const handler: WorkerHandler = createWorkerHandler(config);
createWorkerHandler({ wasmModule, model: new ArrayBuffer(8) });
createWorkerHandler({ wasmModule, model: 'https://example.com/model.gguf' });
fromRoot({ wasmModule, model: async () => new Response(new Uint8Array(8)) });

export default {
  async fetch(request: Request, env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    return handler.fetch(request, env, ctx);
  },
};
