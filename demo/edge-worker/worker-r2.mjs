/**
 * The same OpenAI-compatible worker, with the weights in an R2 bucket instead
 * of the bundle: only code and the 90 KB wasm are uploaded, and the model is
 * streamed from the bucket into the wasm heap on the first request of each
 * isolate (never held twice in memory).
 *
 *   npx wrangler r2 object put wasmllm-models/shakespeare.gguf --file ../../models/shakespeare.gguf
 *   npx wrangler deploy --env r2
 */
import { createWorkerHandler } from '../../web/edge/index.js';
import wasmModule from '../../dist/mjs/wasmllm-st.wasm';

export default createWorkerHandler({
  wasmModule,
  // Called on the first request (and again after a failed load); null means no such object.
  model: (env) => env.MODELS.get(env.MODEL_KEY ?? 'shakespeare.gguf'),
  // Optional: with `wrangler secret put API_KEY`, clients must send Authorization: Bearer <key>.
  apiKey: (env) => env.API_KEY,
  maxTokensDefault: 128,
});
