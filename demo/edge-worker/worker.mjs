/**
 * An OpenAI-compatible chat endpoint at the edge: the embedded Shakespeare
 * model, bundled into the worker, served by wasmllm's single-threaded build.
 *
 *   POST /v1/chat/completions   (stream: true for server-sent events)
 *   POST /v1/completions
 *   GET  /v1/models, GET /health
 *
 * Both the .wasm and the .gguf are imported as modules: edge runtimes refuse
 * to compile wasm from bytes at run time, and a data module is an ArrayBuffer.
 * In an app that installed the package, the imports read
 * 'wasmllm/worker', 'wasmllm/dist/mjs/wasmllm-st.wasm' and your own .gguf.
 */
import { createWorkerHandler } from '../../web/edge/index.js';
import wasmModule from '../../dist/mjs/wasmllm-st.wasm';
import model from '../../models/shakespeare.gguf';

export default createWorkerHandler({
  model,
  wasmModule,
  modelId: 'shakespeare',
  maxTokensDefault: 128,
});
